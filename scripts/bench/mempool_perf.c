/*
 * The DPDK side of `scripts/bench-vs-dpdk.sh mempool`: a fixed subset of DPDK's
 * mempool_perf_autotest (the whole of it takes about 50 minutes here) and pktmbuf alloc/free
 * loops, printed as rows that rpdk's mempool_perf prints too.
 *
 *   mempool: cache 0 and 512, 1 and 2 cores, get and put in bulks of 1, 4 and 32 while
 *            keeping 128 objects, as the autotest's loop: each core repeatedly gets n_keep
 *            objects by bulks of n_get_bulk, then puts them back by bulks of n_put_bulk; the
 *            line ends with rate_persec as the autotest prints it.
 *   mbuf:    rte_pktmbuf_alloc + rte_pktmbuf_free one at a time, and rte_pktmbuf_alloc_bulk +
 *            rte_pktmbuf_free_bulk by 8 and 32, with cache 256 and 0, on one core.
 *
 * Built by scripts/bench/mempool.sh with `cc -O3 $(pkg-config --cflags --libs libdpdk)`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define N_PER_LOOP 65536
#define MAX_KEEP 128
#define ELT_SIZE 2048

static unsigned run_ms = 2000;
static unsigned n_keep, n_bulk;
static volatile int go;
static uint64_t counts[RTE_MAX_LCORE];

static int worker(void *arg)
{
	struct rte_mempool *mp = arg;
	unsigned lcore = rte_lcore_id();
	struct rte_mempool_cache *cache = rte_mempool_default_cache(mp, lcore);
	void *objs[MAX_KEEP];
	uint64_t hz = rte_get_timer_hz(), start, count = 0;

	while (!go)
		rte_pause();
	start = rte_get_timer_cycles();
	while ((rte_get_timer_cycles() - start) * 1000 / hz < run_ms) {
		for (unsigned i = 0; i < N_PER_LOOP / n_keep; i++) {
			for (unsigned k = 0; k < n_keep; k += n_bulk)
				if (rte_mempool_generic_get(mp, &objs[k], n_bulk, cache) < 0)
					return -1;
			for (unsigned k = 0; k < n_keep; k += n_bulk)
				rte_mempool_generic_put(mp, &objs[k], n_bulk, cache);
		}
		count += N_PER_LOOP;
	}
	counts[lcore] = count;
	return 0;
}

static int mempool_case(struct rte_mempool *mp, unsigned cores, unsigned bulk)
{
	unsigned lcore, launched = 0;
	uint64_t total = 0;

	n_keep = MAX_KEEP;
	n_bulk = bulk;
	go = 0;
	memset(counts, 0, sizeof(counts));
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (launched + 1 >= cores)
			break;
		rte_eal_remote_launch(worker, mp, lcore);
		launched++;
	}
	go = 1;
	if (worker(mp) < 0)
		return -1;
	rte_eal_mp_wait_lcore();
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++)
		total += counts[lcore];
	/* As the autotest: objects got and put per second, all cores together. */
	uint64_t rate = total * 1000 / run_ms;
	printf("mempool_autotest cache=%u cores=%u n_get_bulk=%u n_put_bulk=%u n_keep=%u "
	       "constant_n=0 rate_persec=%" PRIu64 "\n",
	       mp->cache_size, cores, bulk, bulk, MAX_KEEP, rate);
	/* Cycles of one core per object got and put. */
	printf("row\tmempool cache=%u cores=%u bulk=%u keep=%u\tcycles/obj\tlower\t%.2f\n",
	       mp->cache_size, cores, bulk, MAX_KEEP,
	       (double)rte_get_tsc_hz() * cores / (double)rate);
	return 0;
}

static void mbuf_case(struct rte_mempool *mp, unsigned bulk)
{
	struct rte_mbuf *m[32];
	const uint64_t iters = 4000000 / (bulk ? bulk : 1);
	uint64_t start = rte_rdtsc_precise();

	for (uint64_t i = 0; i < iters; i++) {
		if (bulk == 0) {
			struct rte_mbuf *one = rte_pktmbuf_alloc(mp);
			if (one == NULL)
				abort();
			rte_pktmbuf_free(one);
		} else {
			if (rte_pktmbuf_alloc_bulk(mp, m, bulk) != 0)
				abort();
			rte_pktmbuf_free_bulk(m, bulk);
		}
	}
	uint64_t cycles = rte_rdtsc_precise() - start;
	double per = (double)cycles / (double)(iters * (bulk ? bulk : 1));
	if (bulk == 0)
		printf("row\tmbuf cache=%u alloc+free single\tcycles/mbuf\tlower\t%.2f\n", mp->cache_size, per);
	else
		printf("row\tmbuf cache=%u alloc+free bulk %u\tcycles/mbuf\tlower\t%.2f\n", mp->cache_size, bulk, per);
}

int main(int argc, char **argv)
{
	int ret = rte_eal_init(argc, argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "Cannot init EAL\n");
	if (argc - ret > 1)
		run_ms = (unsigned)atoi(argv[ret + 1]);

	/* MEMPOOL_SIZE, for at least two lcores (a cache of 512 needs 768 objects). */
	unsigned size = RTE_MAX(rte_lcore_count(), 2u) * (MAX_KEEP + RTE_MEMPOOL_CACHE_MAX_SIZE) - 1;
	unsigned caches[] = {0, RTE_MEMPOOL_CACHE_MAX_SIZE};
	for (unsigned c = 0; c < 2; c++) {
		char name[32];
		snprintf(name, sizeof(name), "perf_%u", caches[c]);
		struct rte_mempool *mp = rte_mempool_create(name, size, ELT_SIZE, caches[c], 0, NULL,
							    NULL, NULL, NULL, SOCKET_ID_ANY, 0);
		if (mp == NULL)
			rte_exit(EXIT_FAILURE, "cannot create mempool\n");
		for (unsigned cores = 1; cores <= 2 && cores <= rte_lcore_count(); cores++) {
			unsigned bulks[] = {1, 4, 32};
			for (unsigned b = 0; b < 3; b++)
				if (mempool_case(mp, cores, bulks[b]) < 0)
					rte_exit(EXIT_FAILURE, "mempool case failed\n");
		}
		rte_mempool_free(mp);
	}

	unsigned mcaches[] = {256, 0};
	for (unsigned c = 0; c < 2; c++) {
		char name[32];
		snprintf(name, sizeof(name), "mbuf_%u", mcaches[c]);
		struct rte_mempool *mp = rte_pktmbuf_pool_create(name, 8191, mcaches[c], 0,
								 RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		if (mp == NULL)
			rte_exit(EXIT_FAILURE, "cannot create pktmbuf pool\n");
		unsigned bulks[] = {0, 8, 32};
		for (unsigned b = 0; b < 3; b++)
			mbuf_case(mp, bulks[b]);
		rte_mempool_free(mp);
	}
	rte_eal_cleanup();
	return 0;
}
