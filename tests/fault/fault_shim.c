/* fault_shim: an LD_PRELOAD library that makes fsync and fdatasync fail with EIO on demand.
 *
 * A test starts missived with LD_PRELOAD=<this library> and MISSIVE_FAULT_FSYNC_EIO=<path>.
 * While the file at <path> exists, every fsync/fdatasync returns -1 with errno EIO (the
 * file is checked on each call, so the test switches the fault on and off by creating and
 * removing it while the relay runs). Otherwise the call goes to the real libc function.
 * Without the variable the shim is transparent.
 *
 * SQLite calls fdatasync (or fsync) when it commits in WAL mode with synchronous=FULL, so
 * this is how a test sees that a failed sync turns 250 into 451.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

/* True when the control file named by MISSIVE_FAULT_FSYNC_EIO exists right now. */
static int fault_on(void) {
  const char* path = getenv("MISSIVE_FAULT_FSYNC_EIO");
  if (path == NULL || path[0] == '\0') return 0;
  int saved = errno; /* access() must not leave its errno behind on the success path */
  int on = access(path, F_OK) == 0;
  errno = saved;
  return on;
}

/* Calls the next definition of `name` after this library (libc's), looked up once. */
static int call_real(sync_fn* cache, const char* name, int fd) {
  if (*cache == NULL) {
    /* POSIX lets dlsym's object pointer hold a function; ISO C has no cast for it. */
    void* symbol = dlsym(RTLD_NEXT, name);
    memcpy(cache, &symbol, sizeof symbol);
  }
  if (*cache == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return (*cache)(fd);
}

int fsync(int fd) {
  static sync_fn next;
  if (fault_on()) {
    errno = EIO;
    return -1;
  }
  return call_real(&next, "fsync", fd);
}

int fdatasync(int fd) {
  static sync_fn next;
  if (fault_on()) {
    errno = EIO;
    return -1;
  }
  return call_real(&next, "fdatasync", fd);
}
