// An event-triggered function in C (WASI command ABI). Deploy it on inserts into `orders`:
//   performer functions deploy order-log order-log.wasm \
//     --trigger event:row.insert:public.orders --permission db.write --permission db.service_role
// For each inserted order it upserts a row into `order_log` keyed by the run's idempotency key
// (the event's origin:seq), so a retried run rewrites the same row: handled once in effect.
// Build: clang --target=wasm32-wasi -O2 -Wl,--strip-all -o order-log.wasm order-log.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("edge"), import_name("call")))
int edge_call(const char *op, int op_len, const char *request, int request_len);
__attribute__((import_module("edge"), import_name("result")))
int edge_result(char *buffer, int capacity);

static char request[1 << 20];
static char call[512];
static char answer[4096];

// The string value of "name" (no escapes: keys and ids here are plain), or NULL.
static const char *string_after(const char *from, const char *name, char *out, size_t cap) {
    const char *at = strstr(from, name);
    if (at == NULL) return NULL;
    at += strlen(name);
    size_t n = 0;
    while (at[n] != '"' && at[n] != '\0' && n + 1 < cap) n++;
    memcpy(out, at, n);
    out[n] = '\0';
    return out;
}

int main(void) {
    size_t length = fread(request, 1, sizeof request - 1, stdin);
    request[length] = '\0';
    char key[160];
    if (string_after(request, "\"idempotency_key\":\"", key, sizeof key) == NULL) {
        printf("{\"status\":400,\"body\":\"not a triggered run\"}");
        return 0;
    }
    const char *record = strstr(request, "\"record\":{");
    const char *id = record ? strstr(record, "\"id\":") : NULL;
    if (id == NULL) {
        printf("{\"status\":400,\"body\":\"the event has no record id\"}");
        return 0;
    }
    long long order_id = strtoll(id + 5, NULL, 10);
    int n = snprintf(call, sizeof call,
                     "{\"table\":\"order_log\",\"rows\":{\"key\":\"%s\",\"order_id\":%lld}}",
                     key, order_id);
    int code = edge_call("db.upsert", 9, call, n);
    if (code < 0) {
        int size = edge_result(answer, sizeof answer - 1);
        answer[size > 0 && size < (int)sizeof answer ? size : 0] = '\0';
        fprintf(stderr, "db.upsert answered %d: %s\n", code, answer);
        printf("{\"status\":503,\"json\":{\"code\":%d}}", code);
        return 0;
    }
    fprintf(stderr, "order %lld logged as %s\n", order_id, key);
    printf("{\"status\":200,\"json\":{\"order_id\":%lld,\"key\":\"%s\"}}", order_id, key);
    return 0;
}
