# tests/protocol/transport.cmake — the transport's unit test (included by tests/protocol/CMakeLists.txt).
genie_unit_test(test_transport SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_transport.c
                LIBS genie_transport genie_common)
