/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ring_rts_hts: the rows of DPDK's ring_perf_autotest for the MP_RTS/MC_RTS and MP_HTS/MC_HTS
 * modes, which dpdk-test does not measure, so that rpdk's ring_perf RTS/HTS rows have a DPDK
 * figure beside them. Same loops, iteration counts, labels and units as ring_perf_autotest
 * (22.11): single-lcore rows in cycles per iteration (one enqueue plus one dequeue), empty
 * dequeue per call, two-core rows in cycles per element (enqueuer plus dequeuer). Rings are
 * created with RING_F_MP_RTS_ENQ | RING_F_MC_RTS_DEQ (or HTS) and used through DPDK's explicit
 * rte_ring_mp_rts_* / rte_ring_mp_hts_* functions.
 *
 * Built by scripts/bench/ring.sh against Debian's libdpdk-dev:
 *   cc -O3 $(pkg-config --cflags libdpdk) ring_rts_hts.c $(pkg-config --libs libdpdk)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>

#define RING_SIZE 4096
#define MAX_BURST 32
#define RTS 0
#define HTS 1

/* volatile, as in ring_perf_autotest: not compile-time constants */
static const volatile unsigned int bulk_sizes[] = {8, 32};
static volatile unsigned int lcore_count;

static __rte_always_inline unsigned int
enq(struct rte_ring *r, const void *obj, unsigned int es, unsigned int n, int mode, int bulk)
{
	if (mode == RTS)
		return bulk ? rte_ring_mp_rts_enqueue_bulk_elem(r, obj, es, n, NULL)
			    : rte_ring_mp_rts_enqueue_burst_elem(r, obj, es, n, NULL);
	return bulk ? rte_ring_mp_hts_enqueue_bulk_elem(r, obj, es, n, NULL)
		    : rte_ring_mp_hts_enqueue_burst_elem(r, obj, es, n, NULL);
}

static __rte_always_inline unsigned int
deq(struct rte_ring *r, void *obj, unsigned int es, unsigned int n, int mode, int bulk)
{
	if (mode == RTS)
		return bulk ? rte_ring_mc_rts_dequeue_bulk_elem(r, obj, es, n, NULL)
			    : rte_ring_mc_rts_dequeue_burst_elem(r, obj, es, n, NULL);
	return bulk ? rte_ring_mc_hts_dequeue_bulk_elem(r, obj, es, n, NULL)
		    : rte_ring_mc_hts_dequeue_burst_elem(r, obj, es, n, NULL);
}

static void
row(int es, int mode, const char *what, unsigned int size, double v)
{
	const char *prefix = es == 8 ? "legacy APIs" : "elem APIs: element size 16B";
	const char *m = mode == RTS ? "MP_RTS/MC_RTS" : "MP_HTS/MC_HTS";

	if (size)
		printf("%s: %s: %s (size: %u): %.2F\n", prefix, m, what, size, v);
	else
		printf("%s: %s: %s: %.2F\n", prefix, m, what, v);
}

static struct rte_ring *
ring(int es, int mode)
{
	unsigned int flags = mode == RTS ? RING_F_MP_RTS_ENQ | RING_F_MC_RTS_DEQ
					 : RING_F_MP_HTS_ENQ | RING_F_MC_HTS_DEQ;
	struct rte_ring *r = rte_ring_create_elem("RING_PERF_X", es, RING_SIZE,
						  rte_socket_id(), flags);
	if (r == NULL)
		rte_exit(1, "cannot create the ring\n");
	return r;
}

static __rte_always_inline void
one_lcore(int es, int mode)
{
	uint64_t burst[MAX_BURST * 2];
	const unsigned int single_it = 1u << 24, it = 1u << 23, empty_it = 1u << 26;
	unsigned int i, sz, bulk;
	uint64_t start;
	struct rte_ring *r = ring(es, mode);

	memset(burst, 0, sizeof(burst));
	printf("\n### Testing single element enq/deq ###\n");
	start = rte_rdtsc();
	for (i = 0; i < single_it; i++) {
		enq(r, burst, es, 1, mode, 1);
		deq(r, burst, es, 1, mode, 1);
	}
	row(es, mode, "single", 0, (double)(rte_rdtsc() - start) / single_it);

	for (bulk = 0; bulk < 2; bulk++) {
		printf("\n### Testing %s enq/deq ###\n", bulk ? "bulk" : "burst");
		for (sz = 0; sz < RTE_DIM(bulk_sizes); sz++) {
			start = rte_rdtsc();
			for (i = 0; i < it; i++) {
				enq(r, burst, es, bulk_sizes[sz], mode, bulk);
				deq(r, burst, es, bulk_sizes[sz], mode, bulk);
			}
			row(es, mode, bulk ? "bulk" : "burst", bulk_sizes[sz],
			    (double)(rte_rdtsc() - start) / it);
		}
	}

	printf("\n### Testing empty bulk deq ###\n");
	start = rte_rdtsc();
	for (i = 0; i < empty_it; i++)
		deq(r, burst, es, bulk_sizes[0], mode, 1);
	row(es, mode, "bulk", bulk_sizes[0], (double)(rte_rdtsc() - start) / empty_it);
	rte_ring_free(r);
}

struct two {
	struct rte_ring *r;
	unsigned int size;
	double result;
};

static __rte_always_inline int
two_side(struct two *p, int es, int mode, int is_enq)
{
	uint64_t burst[MAX_BURST * 2];
	const unsigned int it = 1u << 15;
	unsigned int i;
	uint64_t start;

	memset(burst, 0, sizeof(burst));
	if (__sync_add_and_fetch(&lcore_count, 1) != 2)
		while (lcore_count != 2)
			rte_pause();
	start = rte_rdtsc();
	for (i = 0; i < it; i++) {
		if (is_enq)
			while (enq(p->r, burst, es, p->size, mode, 1) == 0)
				rte_pause();
		else
			while (deq(p->r, burst, es, p->size, mode, 1) == 0)
				rte_pause();
	}
	p->result = (double)(rte_rdtsc() - start) / ((double)it * p->size);
	return 0;
}

#define SIDES(ES, MODE, NAME)                                                                  \
	static int enq_##NAME(void *p) { return two_side(p, ES, MODE, 1); }                     \
	static int deq_##NAME(void *p) { return two_side(p, ES, MODE, 0); }
SIDES(8, RTS, 8_rts)
SIDES(8, HTS, 8_hts)
SIDES(16, RTS, 16_rts)
SIDES(16, HTS, 16_hts)

static void
two_cores(int es, int mode, lcore_function_t *fe, lcore_function_t *fd)
{
	unsigned int sz, worker = rte_get_next_lcore(-1, 1, 0);

	printf("\n### Testing using two physical cores ###\n");
	for (sz = 0; sz < RTE_DIM(bulk_sizes); sz++) {
		struct two e = {.size = bulk_sizes[sz]}, d = {.size = bulk_sizes[sz]};

		e.r = d.r = ring(es, mode);
		lcore_count = 0;
		rte_eal_remote_launch(fd, &d, worker);
		fe(&e);
		rte_eal_wait_lcore(worker);
		row(es, mode, "bulk", bulk_sizes[sz], e.result + d.result);
		rte_ring_free(e.r);
	}
}

int
main(int argc, char **argv)
{
	if (rte_eal_init(argc, argv) < 0)
		rte_exit(1, "cannot init the EAL\n");
	one_lcore(8, RTS);
	one_lcore(8, HTS);
	if (rte_lcore_count() >= 2) {
		two_cores(8, RTS, enq_8_rts, deq_8_rts);
		two_cores(8, HTS, enq_8_hts, deq_8_hts);
	}
	one_lcore(16, RTS);
	one_lcore(16, HTS);
	if (rte_lcore_count() >= 2) {
		two_cores(16, RTS, enq_16_rts, deq_16_rts);
		two_cores(16, HTS, enq_16_hts, deq_16_hts);
	}
	rte_eal_cleanup();
	return 0;
}
