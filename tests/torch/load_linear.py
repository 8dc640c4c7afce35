"""load_linear.py — loads a stack of nn.Linear(4096, 4096) onto the GPU, the way a model load
uploads its weights (for the weight cache: run it twice against one genie-remote and compare
the two runs' bytes_sent; docs/benchmarks.md).

    load_linear.py [LAYERS=4]
Weights come from a seeded CPU generator: every run uploads the same bytes. Prints a checksum
of one layer copied back, and RESULT OK."""
import sys

import torch

layers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
torch.manual_seed(0)
model = torch.nn.Sequential(*[torch.nn.Linear(4096, 4096) for _ in range(layers)])
want = model[0].weight.detach().clone()
model = model.to("cuda")
torch.cuda.synchronize()
back = model[0].weight.detach().cpu()
ok = torch.equal(back, want)
print(f"{layers} layers, {sum(p.numel() * 4 for p in model.parameters())} bytes of parameters, "
      f"layer 0 {'identical' if ok else 'DIFFERENT'}")
print("RESULT OK" if ok else "RESULT FAIL")
sys.exit(0 if ok else 1)
