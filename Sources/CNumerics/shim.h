// The C surface FedSim uses: GSL (random numbers, distributions, CDFs), CBLAS through GSL's
// header (the symbols come from OpenBLAS at link time) and LAPACKE. Do not include OpenBLAS's
// own cblas.h here: its enums clash with gsl_cblas.h.
#ifndef FEDSIM_CNUMERICS_SHIM_H
#define FEDSIM_CNUMERICS_SHIM_H

#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <spawn.h>
#include <malloc.h>
#include <sys/wait.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_cblas.h>
#include <lapacke.h>

// OpenBLAS's thread control (declared here because its cblas.h cannot be included).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// The kernel family OpenBLAS chose at load time (e.g. "Haswell", "Prescott") and its build config.
char *openblas_get_corename(void);
char *openblas_get_config(void);

// Atomically swaps two paths (Linux renameat2 with RENAME_EXCHANGE), so replacing an output
// directory never has a moment where neither the old nor the new one is in place.
// Returns 0, or -1 with errno set (ENOSYS/EINVAL where the kernel or filesystem lacks it).
static inline int fedsim_rename_exchange(const char *a, const char *b) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

// posix_spawn's working-directory action (glibc ≥ 2.29; declared by spawn.h only under
// _GNU_SOURCE), so a child starts in its own directory without a shell's `cd`.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
static inline int fedsim_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

// Whether child `pid` has ended, without reaping it (1 ended, 0 running, -1 error): while it is a
// zombie its process id, and so its process group's, cannot be reused, so the group can still be
// killed safely before the child is reaped.
static inline int fedsim_child_ended(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return -1;
    return info.si_pid == pid ? 1 : 0;
}

// glibc's allocator returns big freed blocks to the kernel (mmap above 128 kB, heap trimming),
// so the next allocation of the same size faults in fresh zeroed pages: an adapter's tensors
// (hundreds of kB each, tens of MB in all) were paying that on every read. Blocks below 64 MB come
// from the heap and freed memory is kept for reuse until 256 MB of it sits at the top.
static inline void fedsim_tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
}

// GSL's generator types are C globals, which Swift 6 rejects as not concurrency-safe;
// hand them out from functions instead.
static inline const gsl_rng_type *fedsim_rng_mt19937(void) { return gsl_rng_mt19937; }
static inline const gsl_rng_type *fedsim_rng_taus2(void) { return gsl_rng_taus2; }

// One raw draw of `r`'s generator: GSL's inline `gsl_rng_get` (one indirect call into the
// generator), which the library build exports only as an out-of-line function. 32 bits for
// mt19937 and taus2.
static inline uint32_t fedsim_rng_get32(const gsl_rng *r) { return (uint32_t)(r->type->get)(r->state); }

// GSL's default error handler aborts the process. FedSim validates parameters itself and
// reports errors as Swift errors, so the handler is switched off once, before any GSL call.
static inline void fedsim_gsl_quiet_errors(void) { gsl_set_error_handler_off(); }

// Full-state seeding. gsl_rng_set() takes an unsigned long but mt19937 and taus2 keep only
// 32 bits of it, so a million derived streams would collide (birthday bound ~ 2^16). We
// write the whole state instead. The layouts below are those of GSL's mt.c and taus.c
// (unchanged since GSL 1.0); the Numerics tests check the result against gsl_rng_set for
// the documented equivalences.
typedef struct { unsigned long mt[624]; int mti; } fedsim_mt_state;
typedef struct { unsigned long s1, s2, s3; } fedsim_taus_state;

/// Fills an mt19937 state from 624 32-bit words; the next draw regenerates the block.
static inline void fedsim_mt19937_set_state(gsl_rng *r, const uint32_t *words) {
    fedsim_mt_state *s = (fedsim_mt_state *)r->state;
    int nonzero = 0;
    for (int i = 0; i < 624; i++) { s->mt[i] = words[i]; nonzero |= (words[i] != 0); }
    if (!nonzero) s->mt[0] = 0x80000000UL; // the all-zero state is the one forbidden state
    s->mti = 624;
}

/// Fills a taus2 state from three 32-bit words, lifting each component above its lower bound.
static inline void fedsim_taus2_set_state(gsl_rng *r, const uint32_t *words) {
    fedsim_taus_state *s = (fedsim_taus_state *)r->state;
    s->s1 = words[0] < 2 ? words[0] + 2 : words[0];
    s->s2 = words[1] < 8 ? words[1] + 8 : words[1];
    s->s3 = words[2] < 16 ? words[2] + 16 : words[2];
}


// GSL's mt19937 draw (mt.c's mt_get) on GSL's own state, with the same words, tempering and
// bookkeeping, so that it returns exactly what gsl_rng_get would and the two can be interleaved.
// The difference is speed: GSL's build regenerates the 624-word block with a branch on each word's
// low bit, mispredicted half the time (≈ 5–10 ns a draw); here the magic constant is masked in.
// Only for a generator of type gsl_rng_mt19937.
static inline void fedsim_mt19937_refill(fedsim_mt_state *s) {
    unsigned long *mt = s->mt;
    int kk = 0;
    for (; kk < 624 - 397; kk++) {
        unsigned long y = (mt[kk] & 0x80000000UL) | (mt[kk + 1] & 0x7fffffffUL);
        mt[kk] = mt[kk + 397] ^ (y >> 1) ^ ((0UL - (y & 1)) & 0x9908b0dfUL);
    }
    for (; kk < 623; kk++) {
        unsigned long y = (mt[kk] & 0x80000000UL) | (mt[kk + 1] & 0x7fffffffUL);
        mt[kk] = mt[kk + (397 - 624)] ^ (y >> 1) ^ ((0UL - (y & 1)) & 0x9908b0dfUL);
    }
    unsigned long y = (mt[623] & 0x80000000UL) | (mt[0] & 0x7fffffffUL);
    mt[623] = mt[396] ^ (y >> 1) ^ ((0UL - (y & 1)) & 0x9908b0dfUL);
    s->mti = 0;
}

static inline uint32_t fedsim_mt19937_get32(gsl_rng *r) {
    fedsim_mt_state *s = (fedsim_mt_state *)r->state;
    if (__builtin_expect(s->mti >= 624, 0)) fedsim_mt19937_refill(s);
    unsigned long k = s->mt[s->mti++];
    k ^= (k >> 11);
    k ^= (k << 7) & 0x9d2c5680UL;
    k ^= (k << 15) & 0xefc60000UL;
    k ^= (k >> 18);
    return (uint32_t)k;
}

#endif
