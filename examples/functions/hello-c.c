// A Performer Edge function in C, as a WASI command (the default ABI): the request JSON
// arrives on stdin, the response JSON goes to stdout, stderr is the function's log.
// Build: clang --target=wasm32-wasi -O2 -Wl,--strip-all -o hello-c.wasm hello-c.c
//    or: python -m ziglang cc --target=wasm32-wasi -O2 -s -o hello-c.wasm hello-c.c
#include <stdio.h>
#include <string.h>

static char request[1 << 20];

int main(void) {
    size_t length = fread(request, 1, sizeof request - 1, stdin);
    request[length] = '\0';
    // A real function would parse the JSON; this one reports what it was given.
    const char *method = strstr(request, "\"method\":\"GET\"") ? "GET" : "not GET";
    fprintf(stderr, "handled a %zu-byte request\n", length);
    printf("{\"status\":200,\"headers\":{\"x-made-by\":\"c\"},"
           "\"json\":{\"message\":\"hello from C\",\"method\":\"%s\",\"request_bytes\":%zu}}",
           method, length);
    return 0;
}
