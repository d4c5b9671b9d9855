/*
 * makalu_mmap: the smallest N-API addon a persistent region needs.
 *
 *   map(fd, length)             -> ArrayBuffer over mmap(PROT_READ|PROT_WRITE, MAP_SHARED)
 *   sync(buffer, offset, length)   msync(MS_SYNC) of the page-aligned range
 *   unmap(buffer)                  detach the buffer, then munmap
 *   lock(fd)                    -> flock(LOCK_EX|LOCK_NB); false when held elsewhere
 *   unlock(fd)                     flock(LOCK_UN)
 *   allocate(fd, offset, length) -> fallocate(fd, 0, offset, length): 0, or the errno
 *                                  (disk space for a range, so a full disk is an error
 *                                  now, not a SIGBUS when a mapped page is first touched)
 *   pageSize                       sysconf(_SC_PAGESIZE)
 *
 * Every mapping has a record; whichever of unmap() and the GC finalizer comes
 * first unmaps it, the other only frees the record, so nothing is unmapped twice.
 * unmap() detaches the buffer before munmap, so JS can never touch unmapped memory.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_MAP_LENGTH ((int64_t)1 << 32) /* one ArrayBuffer, one region: 4 GiB */

typedef struct mapping {
  void *addr;
  size_t length;
  int unmapped;
  int creating; /* set while napi_create_external_arraybuffer runs: a failing create may finalize at once */
  struct mapping *next;
} mapping;

/* Shared by every env (worker threads load the addon once per process). */
static mapping *mappings = NULL;
static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;

#define CALL(env, call)                                                    \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      throw_status(env, #call);                                            \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static void throw_status(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "makalu_mmap: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, "EMMAPNATIVE", msg);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "makalu_mmap: %s: %s (errno %d)", what, strerror(err), err);
  napi_throw_error(env, "EMMAPNATIVE", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "EMMAPNATIVE", msg);
  return NULL;
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = hint;
  if (m->creating) return; /* the create failed: js_map unmaps and frees, once */
  pthread_mutex_lock(&mappings_lock);
  for (mapping **p = &mappings; *p; p = &(*p)->next) {
    if (*p == m) { *p = m->next; break; }
  }
  pthread_mutex_unlock(&mappings_lock);
  if (!m->unmapped) munmap(m->addr, m->length);
  free(m);
}

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    napi_throw_type_error(env, "EMMAPNATIVE", "makalu_mmap: too few arguments");
    return NULL;
  }
  return argv[0];
}

static napi_value js_map(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  int64_t length;
  CALL(env, napi_get_value_int32(env, argv[0], &fd));
  CALL(env, napi_get_value_int64(env, argv[1], &length));
  if (length <= 0) return throw_range(env, "makalu_mmap: map length must be positive");
  if (length > MAX_MAP_LENGTH) return throw_range(env, "makalu_mmap: map length over 4 GiB (one ArrayBuffer is at most 4 GiB)");

  void *addr = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  mapping *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(addr, (size_t)length);
    return throw_errno(env, "calloc", ENOMEM);
  }
  m->addr = addr;
  m->length = (size_t)length;
  m->creating = 1;

  napi_value buffer;
  if (napi_create_external_arraybuffer(env, addr, (size_t)length, finalize_mapping, m, &buffer) != napi_ok) {
    /* Node 20 may have run the finalizer already, inside the failing call: it did nothing. */
    munmap(addr, (size_t)length);
    free(m);
    throw_status(env, "napi_create_external_arraybuffer");
    return NULL;
  }
  m->creating = 0;
  pthread_mutex_lock(&mappings_lock);
  m->next = mappings;
  mappings = m;
  pthread_mutex_unlock(&mappings_lock);
  return buffer;
}

/* The live mapping record whose memory backs `buffer`, or NULL (after throwing). */
static mapping *find_mapping(napi_env env, napi_value buffer) {
  bool is_ab = false;
  if (napi_is_arraybuffer(env, buffer, &is_ab) != napi_ok || !is_ab) {
    napi_throw_type_error(env, "EMMAPNATIVE", "makalu_mmap: expected an ArrayBuffer from map()");
    return NULL;
  }
  void *data = NULL;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, buffer, &data, &length) != napi_ok) {
    throw_status(env, "napi_get_arraybuffer_info");
    return NULL;
  }
  mapping *found = NULL;
  pthread_mutex_lock(&mappings_lock);
  for (mapping *m = mappings; m; m = m->next) {
    if (!m->unmapped && m->addr == data && m->length == length) { found = m; break; }
  }
  pthread_mutex_unlock(&mappings_lock);
  if (!found) napi_throw_error(env, "EMMAPNATIVE", "makalu_mmap: buffer is not a live mapping (unmapped already?)");
  return found;
}

static napi_value js_sync(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  mapping *m = find_mapping(env, argv[0]);
  if (!m) return NULL;
  int64_t offset, length;
  CALL(env, napi_get_value_int64(env, argv[1], &offset));
  CALL(env, napi_get_value_int64(env, argv[2], &length));
  if (offset < 0 || length < 0 || offset + length > (int64_t)m->length) {
    return throw_range(env, "makalu_mmap: sync range outside the mapping");
  }
  if (length == 0) return NULL;
  int64_t page = sysconf(_SC_PAGESIZE);
  int64_t start = offset - offset % page;
  if (msync((char *)m->addr + start, (size_t)(offset + length - start), MS_SYNC) != 0) {
    return throw_errno(env, "msync", errno);
  }
  return NULL;
}

static napi_value js_unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  mapping *m = find_mapping(env, argv[0]);
  if (!m) return NULL;
  /* Mark first: once detached, the finalizer may run and free the record. */
  void *addr = m->addr;
  size_t length = m->length;
  pthread_mutex_lock(&mappings_lock);
  m->unmapped = 1;
  pthread_mutex_unlock(&mappings_lock);
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    /* Still reachable from JS: keep the memory mapped rather than risk a SIGSEGV. */
    pthread_mutex_lock(&mappings_lock);
    m->unmapped = 0;
    pthread_mutex_unlock(&mappings_lock);
    throw_status(env, "napi_detach_arraybuffer");
    return NULL;
  }
  if (munmap(addr, length) != 0) return throw_errno(env, "munmap", errno);
  return NULL;
}

static napi_value js_lock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  CALL(env, napi_get_value_int32(env, argv[0], &fd));
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB); while (rc != 0 && errno == EINTR);
  napi_value result;
  if (rc != 0) {
    if (errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
    CALL(env, napi_get_boolean(env, false, &result));
    return result;
  }
  CALL(env, napi_get_boolean(env, true, &result));
  return result;
}

static napi_value js_unlock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  CALL(env, napi_get_value_int32(env, argv[0], &fd));
  int rc;
  do rc = flock(fd, LOCK_UN); while (rc != 0 && errno == EINTR);
  if (rc != 0) return throw_errno(env, "flock(LOCK_UN)", errno);
  return NULL;
}

static napi_value js_allocate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  int64_t offset, length;
  CALL(env, napi_get_value_int32(env, argv[0], &fd));
  CALL(env, napi_get_value_int64(env, argv[1], &offset));
  CALL(env, napi_get_value_int64(env, argv[2], &length));
  if (offset < 0 || length <= 0) return throw_range(env, "makalu_mmap: allocate needs offset >= 0 and length > 0");
  int rc;
  do rc = fallocate(fd, 0, (off_t)offset, (off_t)length); while (rc != 0 && errno == EINTR);
  napi_value result;
  CALL(env, napi_create_int32(env, rc == 0 ? 0 : errno, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
    {"map", NULL, js_map, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sync", NULL, js_sync, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unmap", NULL, js_unmap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lock", NULL, js_lock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unlock", NULL, js_unlock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"allocate", NULL, js_allocate, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CALL(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  napi_value page;
  CALL(env, napi_create_int64(env, sysconf(_SC_PAGESIZE), &page));
  CALL(env, napi_set_named_property(env, exports, "pageSize", page));
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
