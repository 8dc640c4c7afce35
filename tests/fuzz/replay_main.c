/* replay_main.c — runs files through fuzz_batch.c's LLVMFuzzerTestOneInput without libFuzzer:
 * the seed corpus and every input that once crashed (tests/fuzz/regress) as a plain test.
 *
 *   fuzz_batch_replay [[--seeds] PATH]... : each PATH a file or a folder of files; every input
 *   of a PATH given after --seeds must open a session (its HELLO accepted), so seeds that stop
 *   at their first frame fail the test instead of fuzzing nothing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern int fuzz_hello_accepted;
static int seeds, refused;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    struct stat st;
    if (fstat(fileno(f), &st)) {
        fclose(f);
        return 1;
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || n != (size_t)st.st_size) {
        free(buf);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    if (seeds && !fuzz_hello_accepted) {
        fprintf(stderr, "replay: seed %s did not open a session (its HELLO was refused: re-record "
                        "it, see tests/fuzz/fuzz_batch.c)\n", path);
        refused++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        seeds = i > 1 && !strcmp(argv[i - 1], "--seeds");
        if (!strcmp(argv[i], "--seeds"))
            continue;
        DIR *d = opendir(argv[i]);
        if (!d) {
            if (run_file(argv[i])) {
                fprintf(stderr, "replay: cannot read %s\n", argv[i]);
                return 1;
            }
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            if (run_file(p)) {
                fprintf(stderr, "replay: cannot read %s\n", p);
                closedir(d);
                return 1;
            }
            files++;
        }
        closedir(d);
    }
    printf("replay: %d input(s) ran, %d seed(s) refused at HELLO\n", files, refused);
    return files && !refused ? 0 : 1;
}
