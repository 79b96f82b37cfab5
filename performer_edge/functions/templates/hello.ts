// A Performer Edge function in AssemblyScript, as a WASI command (the default ABI): the request
// JSON arrives on stdin, the response JSON goes to stdout, stderr is the function's log.
// Build: npx -p assemblyscript@0.28.20 asc NAME.ts -O3 --runtime stub --use abort=NAME/abort --exportStart _start -o NAME.wasm
// --exportStart turns the top level into WASI's `_start`; the stub runtime and this file's
// `abort` keep out the `env` imports (abort, trace, seed) that deploy refuses.

@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovs_len: u32, nread: usize): u16;
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovs_len: u32, nwritten: usize): u16;
@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const iovec = memory.data(8); // one {buf, len} for fd_read and fd_write
const count = memory.data(4);

function readAll(fd: u32): Uint8Array {
  let buffer = new Uint8Array(64 * 1024);
  let length = 0;
  while (true) {
    if (length == buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    store<usize>(iovec, buffer.dataStart + length);
    store<u32>(iovec, buffer.length - length, 4);
    if (fd_read(fd, iovec, 1, count) != 0 || load<u32>(count) == 0) break;
    length += load<u32>(count);
  }
  return buffer.subarray(0, length);
}

function write(fd: u32, text: string): void {
  const bytes = String.UTF8.encode(text);
  let at = changetype<usize>(bytes);
  let left = <u32>bytes.byteLength;
  while (left > 0) {
    store<usize>(iovec, at);
    store<u32>(iovec, left, 4);
    if (fd_write(fd, iovec, 1, count) != 0) return;
    at += load<u32>(count);
    left -= load<u32>(count);
  }
}

// A failed assertion or bounds check lands here (instead of an imported `env.abort`): it is
// logged and the run ends as `exit_nonzero`.
function abort(message: string | null, file: string | null, line: u32, column: u32): void {
  const where = (file || "") + ":" + line.toString() + ":" + column.toString();
  write(STDERR, "abort: " + (message || "") + " at " + where + "\n");
  proc_exit(1);
}

// The text of the string member `"key":"..."` found after `from`, left escaped (so it can be
// copied into JSON as is), or "". Enough for the request's flat fields; a real function would
// use a JSON library such as assemblyscript-json.
function stringField(json: string, key: string, from: i32 = 0): string {
  const marker = '"' + key + '":"';
  const start = json.indexOf(marker, from);
  if (start < 0) return "";
  let end = start + marker.length;
  while (end < json.length && json.charCodeAt(end) != 0x22) {
    end += json.charCodeAt(end) == 0x5c ? 2 : 1; // a backslash escapes the next character
  }
  return json.substring(start + marker.length, end);
}

const request = readAll(STDIN);
const json = String.UTF8.decodeUnsafe(request.dataStart, request.length);
const method = stringField(json, "method");
const path = stringField(json, "path");
const role = stringField(json, "role", json.indexOf('"principal":'));
write(STDERR, "handled a " + request.length.toString() + "-byte " + method + " " + path + "\n");
if (path == "/") {
  const answer = '"message":"hello from AssemblyScript","method":"' + method + '","role":"' +
    role + '","request_bytes":' + request.length.toString();
  write(STDOUT, '{"status":200,"headers":{"x-made-by":"assemblyscript"},"json":{' + answer + "}}");
} else {
  const answer = '"error":"no route for ' + path + '"';
  write(STDOUT, '{"status":404,"headers":{"x-made-by":"assemblyscript"},"json":{' + answer + "}}");
}
