/*
 * makalu_mmap: the smallest addon a persistent region needs (V8 API, context-aware, so it
 * loads in the main thread and in every worker_thread; rebuilt per Node major at install).
 *
 *   map(fd, length[, reserve])  -> ArrayBuffer of `reserve` bytes (default `length`) whose first
 *                                  `length` are mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of
 *                                  [0, length) of fd; the rest reads as zeros (PROT_READ,
 *                                  private, anonymous: a write there is a SIGSEGV)
 *   extend(buffer, fd, length)     maps [0, length) of fd into the buffer (within its reserve),
 *                                  once the file is that long: the same address, the same buffer
 *   sync(buffer, offset, length)   msync(MS_SYNC) of the page-aligned range (in the file part)
 *   unmap(buffer)                  detach the buffer (its views read as empty), then munmap
 *   lock(fd)                    -> flock(LOCK_EX|LOCK_NB); false when held elsewhere
 *   unlock(fd)                     flock(LOCK_UN)
 *   allocate(fd, offset, length) -> fallocate(fd, 0, offset, length): 0, or the errno
 *   pageSize                       sysconf(_SC_PAGESIZE)
 *
 * Layout of one mapping (one VMA per part; file pages past EOF would raise SIGBUS, zeros do not):
 *
 *   addr                    addr + file_length                       addr + length
 *   | file, MAP_SHARED, rw  | anonymous, MAP_PRIVATE, read-only zeros |
 *   |<------------------ the ArrayBuffer: length bytes -------------->|
 *
 * Why the V8 API: the ArrayBuffer's backing store is made with BackingStore::EmptyDeleter, so
 * V8 does not count the mapping as external memory. napi_create_external_arraybuffer does,
 * and mapping a big file then starts a full mark-compact ("external memory pressure"), run
 * inside the map call once the mapping passes V8's hard limit.
 *
 * Lifetime: every mapping has a record in its addon instance (one per thread). Exactly one
 * of these unmaps it, and then drops the record:
 *   unmap()           detaches first, so JS can never touch unmapped memory; resets the weak
 *                     handle, so the GC callback can no longer run;
 *   the weak callback the buffer was collected without unmap() (no view can reach it);
 *   the cleanup hook  the thread's environment is torn down (a worker that exits).
 * `unmapped` says the munmap happened; no path munmaps a record whose flag is set.
 */
#include <node.h>
#include <v8.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <new>
#include <vector>

namespace {

using v8::ArrayBuffer;
using v8::BackingStore;
using v8::Context;
using v8::Exception;
using v8::External;
using v8::FunctionCallbackInfo;
using v8::FunctionTemplate;
using v8::Global;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::String;
using v8::Value;
using v8::WeakCallbackInfo;
using v8::WeakCallbackType;

/* One ArrayBuffer, one region: 256 GiB (MAX_REGION_SIZE in region.ts). V8 accepts a buffer of up
   to 2^53 - 1 bytes made through the V8 API; a typed array views at most 2^32 elements, so JS views
   it in 4 GiB segments. */
const int64_t MAX_MAP_LENGTH = int64_t(1) << 38;

struct Addon;

struct Mapping {
  Addon *addon;
  void *addr;
  size_t length;      /* bytes of address space: the buffer's length */
  size_t file_length; /* bytes of it mapped from the file */
  bool unmapped;
  Global<ArrayBuffer> buffer; /* weak: it never keeps the buffer alive */
};

/* Per addon instance (per thread): its live mappings. Only that thread touches it. */
struct Addon {
  Isolate *isolate;
  std::vector<Mapping *> mappings;
  /* Every mapped buffer's [[ArrayBufferDetachKey]]: only unmap() can detach it (a transfer
     would move the memory to a buffer this record does not know, and unmap it under it). */
  Global<Object> detach_key;

  void forget(Mapping *m) {
    for (size_t i = 0; i < mappings.size(); i++) {
      if (mappings[i] == m) { mappings[i] = mappings.back(); mappings.pop_back(); return; }
    }
  }
};

void throw_error(Isolate *isolate, const char *msg, bool range = false, bool type = false) {
  Local<String> text = String::NewFromUtf8(isolate, msg).ToLocalChecked();
  Local<Value> err = range ? Exception::RangeError(text) : type ? Exception::TypeError(text) : Exception::Error(text);
  Local<Context> context = isolate->GetCurrentContext();
  err.As<Object>()->Set(context, String::NewFromUtf8Literal(isolate, "code"),
                        String::NewFromUtf8Literal(isolate, "EMMAPNATIVE")).Check();
  isolate->ThrowException(err);
}

void throw_errno(Isolate *isolate, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "makalu_mmap: %s: %s (errno %d)", what, strerror(err), err);
  throw_error(isolate, msg);
}

Addon *addon_of(const FunctionCallbackInfo<Value> &args) {
  return static_cast<Addon *>(args.Data().As<External>()->Value());
}

/* args[i] as an integer; false (after throwing) if it is not a number or too few were passed. */
bool int_arg(const FunctionCallbackInfo<Value> &args, int i, int64_t *out) {
  Isolate *isolate = args.GetIsolate();
  if (args.Length() <= i) { throw_error(isolate, "makalu_mmap: too few arguments", false, true); return false; }
  if (!args[i]->IsNumber()) { throw_error(isolate, "makalu_mmap: a number was expected", false, true); return false; }
  double d = args[i].As<Number>()->Value();
  if (d != d || d < -9007199254740991.0 || d > 9007199254740991.0) {
    throw_error(isolate, "makalu_mmap: the number is not a safe integer", true);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool fd_arg(const FunctionCallbackInfo<Value> &args, int i, int *out) {
  int64_t v;
  if (!int_arg(args, i, &v)) return false;
  if (v < 0 || v > INT32_MAX) { throw_error(args.GetIsolate(), "makalu_mmap: bad file descriptor", true); return false; }
  *out = (int)v;
  return true;
}

void on_collected(const WeakCallbackInfo<Mapping> &info) {
  Mapping *m = info.GetParameter();
  m->buffer.Reset();
  if (!m->unmapped) { munmap(m->addr, m->length); m->unmapped = true; }
  m->addon->forget(m);
  delete m;
}

void cleanup(void *arg) {
  Addon *addon = static_cast<Addon *>(arg);
  for (Mapping *m : addon->mappings) {
    m->buffer.Reset();
    if (!m->unmapped) { munmap(m->addr, m->length); m->unmapped = true; }
    delete m;
  }
  addon->detach_key.Reset();
  delete addon;
}

void js_map(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  Addon *addon = addon_of(args);
  int fd;
  int64_t length, reserve;
  if (!fd_arg(args, 0, &fd) || !int_arg(args, 1, &length)) return;
  reserve = length;
  if (args.Length() > 2 && !args[2]->IsUndefined() && !int_arg(args, 2, &reserve)) return;
  if (length <= 0) return throw_error(isolate, "makalu_mmap: map length must be positive", true);
  if (reserve < length) reserve = length;
  if (reserve > MAX_MAP_LENGTH) return throw_error(isolate, "makalu_mmap: map length over 256 GiB (one region is at most 256 GiB)", true);

  void *addr;
  if (reserve > length) {
    addr = mmap(nullptr, (size_t)reserve, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (addr == MAP_FAILED) return throw_errno(isolate, "mmap (reserve)", errno);
    if (mmap(addr, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
      int err = errno;
      munmap(addr, (size_t)reserve);
      return throw_errno(isolate, "mmap", err);
    }
  } else {
    addr = mmap(nullptr, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) return throw_errno(isolate, "mmap", errno);
  }
  Mapping *m = new (std::nothrow) Mapping{addon, addr, (size_t)reserve, (size_t)length, false, {}};
  if (m == nullptr) {
    munmap(addr, (size_t)reserve); /* the only owner of the mapping so far: unmapped once, here */
    return throw_errno(isolate, "new", ENOMEM);
  }
  /* From here nothing fails short of a fatal V8 out-of-memory, so the record owns the mapping. */
  std::unique_ptr<BackingStore> store =
      ArrayBuffer::NewBackingStore(addr, (size_t)reserve, BackingStore::EmptyDeleter, nullptr);
  Local<ArrayBuffer> buffer = ArrayBuffer::New(isolate, std::move(store));
  buffer->SetDetachKey(addon->detach_key.Get(isolate));
  m->buffer.Reset(isolate, buffer);
  m->buffer.SetWeak(m, on_collected, WeakCallbackType::kParameter);
  addon->mappings.push_back(m);
  args.GetReturnValue().Set(buffer);
}

/* The live record of the mapping behind args[0], or null (after throwing). */
Mapping *find_mapping(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsArrayBuffer()) {
    throw_error(isolate, "makalu_mmap: expected an ArrayBuffer from map()", false, true);
    return nullptr;
  }
  Local<ArrayBuffer> buffer = args[0].As<ArrayBuffer>();
  void *data = buffer->Data();
  size_t length = buffer->ByteLength();
  for (Mapping *m : addon_of(args)->mappings) {
    if (!m->unmapped && m->addr == data && m->length == length) return m;
  }
  throw_error(isolate, "makalu_mmap: buffer is not a live mapping (unmapped already?)");
  return nullptr;
}

void js_sync(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  Mapping *m = find_mapping(args);
  if (m == nullptr) return;
  int64_t offset, length;
  if (!int_arg(args, 1, &offset) || !int_arg(args, 2, &length)) return;
  if (offset < 0 || length < 0 || offset + length > (int64_t)m->file_length) {
    return throw_error(isolate, "makalu_mmap: sync range outside the mapped file", true);
  }
  if (length == 0) return;
  int64_t page = sysconf(_SC_PAGESIZE);
  int64_t start = offset - offset % page;
  if (msync((char *)m->addr + start, (size_t)(offset + length - start), MS_SYNC) != 0) {
    return throw_errno(isolate, "msync", errno);
  }
}

void js_extend(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  Mapping *m = find_mapping(args);
  if (m == nullptr) return;
  int fd;
  int64_t length;
  if (!fd_arg(args, 1, &fd) || !int_arg(args, 2, &length)) return;
  if (length > (int64_t)m->length) return throw_error(isolate, "makalu_mmap: extend past the buffer's reserve", true);
  if (length <= (int64_t)m->file_length) return;
  /* Over the zeros from the last file page on: the pages mapped already keep their entries. */
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t from = m->file_length - m->file_length % page;
  if (mmap((char *)m->addr + from, (size_t)length - from, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)from) == MAP_FAILED) {
    return throw_errno(isolate, "mmap (extend)", errno);
  }
  m->file_length = (size_t)length;
}

void js_unmap(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  Mapping *m = find_mapping(args);
  if (m == nullptr) return;
  Local<ArrayBuffer> buffer = args[0].As<ArrayBuffer>();
  /* Detach first: once it returns no view reaches the memory, and munmap is safe. */
  if (!buffer->IsDetachable() || buffer->Detach(m->addon->detach_key.Get(isolate)).IsNothing() || !buffer->WasDetached()) {
    /* Still reachable from JS: keep the memory mapped rather than risk a SIGSEGV. */
    return throw_error(isolate, "makalu_mmap: the buffer cannot be detached; it stays mapped");
  }
  m->unmapped = true;
  m->buffer.Reset(); /* the weak callback can no longer run */
  m->addon->forget(m);
  int rc = munmap(m->addr, m->length);
  int err = errno;
  delete m;
  if (rc != 0) return throw_errno(isolate, "munmap", err);
}

void js_lock(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  int fd;
  if (!fd_arg(args, 0, &fd)) return;
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB); while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EWOULDBLOCK) return throw_errno(isolate, "flock", errno);
  args.GetReturnValue().Set(rc == 0);
}

void js_unlock(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  int fd;
  if (!fd_arg(args, 0, &fd)) return;
  int rc;
  do rc = flock(fd, LOCK_UN); while (rc != 0 && errno == EINTR);
  if (rc != 0) return throw_errno(isolate, "flock(LOCK_UN)", errno);
}

void js_allocate(const FunctionCallbackInfo<Value> &args) {
  Isolate *isolate = args.GetIsolate();
  int fd;
  int64_t offset, length;
  if (!fd_arg(args, 0, &fd) || !int_arg(args, 1, &offset) || !int_arg(args, 2, &length)) return;
  if (offset < 0 || length <= 0) return throw_error(isolate, "makalu_mmap: allocate needs offset >= 0 and length > 0", true);
  int rc;
  do rc = fallocate(fd, 0, (off_t)offset, (off_t)length); while (rc != 0 && errno == EINTR);
  args.GetReturnValue().Set(rc == 0 ? 0 : errno);
}

}  // namespace

NODE_MODULE_INIT() {
  Isolate *isolate = context->GetIsolate();
  Addon *addon = new Addon{isolate, {}, Global<Object>(isolate, Object::New(isolate))};
  node::AddEnvironmentCleanupHook(isolate, cleanup, addon);
  Local<External> data = External::New(isolate, addon);
  struct { const char *name; v8::FunctionCallback fn; } fns[] = {
    {"map", js_map}, {"extend", js_extend}, {"sync", js_sync}, {"unmap", js_unmap},
    {"lock", js_lock}, {"unlock", js_unlock}, {"allocate", js_allocate},
  };
  for (auto &f : fns) {
    Local<v8::Function> fn = FunctionTemplate::New(isolate, f.fn, data)->GetFunction(context).ToLocalChecked();
    exports->Set(context, String::NewFromUtf8(isolate, f.name).ToLocalChecked(), fn).Check();
  }
  exports->Set(context, String::NewFromUtf8Literal(isolate, "pageSize"),
               Number::New(isolate, (double)sysconf(_SC_PAGESIZE))).Check();
}
