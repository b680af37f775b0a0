/* slow_fsync: an LD_PRELOAD library that makes every fsync and fdatasync take longer.
 *
 * Each call first sleeps SLOW_FSYNC_US microseconds (default 2000; 0 adds nothing), then
 * calls the real libc function and returns what it returned. The sleep stands in for the
 * flush latency of a real SSD: it costs the caller time, not CPU, as a device would. A tmpfs
 * or a write-back cache makes fsync almost free; this shows what group commit is worth when
 * it is not.
 *
 * SLOW_FSYNC_COUNTER=<path> (optional): every call also adds one to a 64-bit counter kept in
 * that file (created if missing; 8 octets, host byte order), shared by all processes that
 * preload the library, so a benchmark can read how many syncs a run took, e.g. Postfix's
 * cooperating processes together: `od -An -tu8 -N8 <path>`.
 *
 *   LD_PRELOAD=build/bench/slow_fsync.so SLOW_FSYNC_US=2000 build/server/missived ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

/* The added delay in microseconds, read from the environment once. */
static long delay_us(void) {
  static long cached = -1;
  if (cached < 0) {
    const char* text = getenv("SLOW_FSYNC_US");
    long value = 2000;
    if (text != NULL && text[0] != '\0') {
      char* end = NULL;
      long parsed = strtol(text, &end, 10);
      if (end != NULL && *end == '\0' && parsed >= 0) value = parsed;
    }
    cached = value;
  }
  return cached;
}

/* The shared counter, mapped on first use; NULL when not asked for or not possible. Two
 * threads racing through the first call may both map it: harmless, both see the same file. */
static uint64_t* counter(void) {
  static int tried = 0;
  static uint64_t* mapped = NULL;
  if (!tried) {
    tried = 1;
    const char* path = getenv("SLOW_FSYNC_COUNTER");
    if (path != NULL && path[0] != '\0') {
      int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd >= 0) {
        /* Grows the file to 8 octets if it is shorter; never shrinks a running count. */
        off_t size = lseek(fd, 0, SEEK_END);
        if (size >= 0 && (size >= (off_t)sizeof(uint64_t) || ftruncate(fd, sizeof(uint64_t)) == 0)) {
          void* p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
          if (p != MAP_FAILED) mapped = (uint64_t*)p;
        }
        close(fd);
      }
    }
  }
  return mapped;
}

/* Sleeps the configured delay (restarting after signals) and counts the call. errno is
 * left as the caller had it. */
static void slow_down(void) {
  int saved = errno;
  uint64_t* count = counter();
  if (count != NULL) __atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
  long us = delay_us();
  if (us > 0) {
    struct timespec left = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
  }
  errno = saved;
}

/* Calls the next definition of `name` after this library (libc's), looked up once. */
static int call_real(sync_fn* cache, const char* name, int fd) {
  if (*cache == NULL) {
    /* POSIX guarantees a data pointer from dlsym converts to a function pointer; memcpy says
     * so without the ISO C cast warning. */
    void* symbol = dlsym(RTLD_NEXT, name);
    memcpy(cache, &symbol, sizeof *cache);
  }
  if (*cache == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return (*cache)(fd);
}

int fsync(int fd) {
  static sync_fn next;
  slow_down();
  return call_real(&next, "fsync", fd);
}

int fdatasync(int fd) {
  static sync_fn next;
  slow_down();
  return call_real(&next, "fdatasync", fd);
}
