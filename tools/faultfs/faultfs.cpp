// faultfs: an LD_PRELOAD shim that makes one chosen file-system call of a process fail, so tests
// can break a merge at every write, fsync, rename and mmap (tests/fault_injection_test.cpp).
//   ALLOY_FAULT="<op>:<n>[:<errno>]"  the n-th call (from 1) of <op> fails with errno ENOSPC, EIO
//                                     (the default), EDQUOT or EROFS, doing nothing;
//   ALLOY_FAULT_COUNTS=<file>         at exit, "<op> <calls>" per line, so a test knows each n.
// ops: write (write, pwrite, pwrite64, writev, sendfile, copy_file_range into a regular file),
// fsync (fsync, fdatasync), rename (rename, renameat, renameat2), mmap (of a file, not anonymous),
// ftruncate. Standard output and pipes are not counted: only regular files are.
// Built without sanitizers and without the C++ library, so it can be preloaded into any build.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

enum Op { kWrite, kFsync, kRename, kMmap, kFtruncate, kOps };
const char* const kOpNames[kOps] = {"write", "fsync", "rename", "mmap", "ftruncate"};

struct Plan {
  int op = -1;  // none
  long n = 0;
  int err = EIO;
};

Plan g_plan;
long g_calls[kOps];

int errno_by_name(const char* name) {
  if (strcmp(name, "ENOSPC") == 0) return ENOSPC;
  if (strcmp(name, "EDQUOT") == 0) return EDQUOT;
  if (strcmp(name, "EROFS") == 0) return EROFS;
  return EIO;
}

__attribute__((constructor)) void read_plan() {
  const char* spec = getenv("ALLOY_FAULT");
  if (!spec) return;
  char op[32] = {0}, err[32] = {0};
  long n = 0;
  if (sscanf(spec, "%31[a-z]:%ld:%31s", op, &n, err) < 2 || n < 1) {
    fprintf(stderr, "faultfs: ALLOY_FAULT='%s' is not <op>:<n>[:<errno>]\n", spec);
    _exit(97);
  }
  for (int i = 0; i < kOps; ++i)
    if (strcmp(op, kOpNames[i]) == 0) g_plan.op = i;
  if (g_plan.op < 0) {
    fprintf(stderr, "faultfs: unknown op '%s'\n", op);
    _exit(97);
  }
  g_plan.n = n;
  if (err[0]) g_plan.err = errno_by_name(err);
}

__attribute__((destructor)) void write_counts() {
  const char* path = getenv("ALLOY_FAULT_COUNTS");
  if (!path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  for (int i = 0; i < kOps; ++i) fprintf(f, "%s %ld\n", kOpNames[i], __atomic_load_n(&g_calls[i], __ATOMIC_SEQ_CST));
  fclose(f);
}

bool is_regular_file(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// Counts one call of `op`; true (errno set) when it is the one to fail.
bool fails(Op op) {
  const long call = __atomic_add_fetch(&g_calls[op], 1, __ATOMIC_SEQ_CST);
  if (g_plan.op != op || call != g_plan.n) return false;
  errno = g_plan.err;
  return true;
}

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (is_regular_file(fd) && fails(kWrite)) return -1;
  return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (is_regular_file(fd) && fails(kWrite)) return -1;
  return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite64");
  if (is_regular_file(fd) && fails(kWrite)) return -1;
  return real(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  static auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  if (is_regular_file(fd) && fails(kWrite)) return -1;
  return real(fd, iov, iovcnt);
}

ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  static auto real = next<ssize_t (*)(int, int, off_t*, size_t)>("sendfile");
  if (is_regular_file(out_fd) && fails(kWrite)) return -1;
  return real(out_fd, in_fd, offset, count);
}

ssize_t copy_file_range(int in_fd, off_t* in_off, int out_fd, off_t* out_off, size_t len, unsigned flags) {
  static auto real = next<ssize_t (*)(int, off_t*, int, off_t*, size_t, unsigned)>("copy_file_range");
  if (is_regular_file(out_fd) && fails(kWrite)) return -1;
  return real(in_fd, in_off, out_fd, out_off, len, flags);
}

int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  if (fails(kFsync)) return -1;
  return real(fd);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  if (fails(kFsync)) return -1;
  return real(fd);
}

int rename(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("rename");
  if (fails(kRename)) return -1;
  return real(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  static auto real = next<int (*)(int, const char*, int, const char*)>("renameat");
  if (fails(kRename)) return -1;
  return real(from_dir, from, to_dir, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
  static auto real = next<int (*)(int, const char*, int, const char*, unsigned)>("renameat2");
  if (fails(kRename)) return -1;
  return real(from_dir, from, to_dir, to, flags);
}

void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  static auto real = next<void* (*)(void*, size_t, int, int, int, off_t)>("mmap");
  if (!(flags & MAP_ANONYMOUS) && fd >= 0 && fails(kMmap)) return MAP_FAILED;
  return real(addr, length, prot, flags, fd, offset);
}

void* mmap64(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  static auto real = next<void* (*)(void*, size_t, int, int, int, off_t)>("mmap64");
  if (!(flags & MAP_ANONYMOUS) && fd >= 0 && fails(kMmap)) return MAP_FAILED;
  return real(addr, length, prot, flags, fd, offset);
}

int ftruncate(int fd, off_t length) {
  static auto real = next<int (*)(int, off_t)>("ftruncate");
  if (fails(kFtruncate)) return -1;
  return real(fd, length);
}

}  // extern "C"
