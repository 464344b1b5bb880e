// SPDX-License-Identifier: GPL-2.0
/*
 * The maximum key age's timer (docs/operations.md, "Maximum key age").
 * Once a second it reads the networks, the guests and their keys from the
 * store (three reads under h->mu, then lets go), and on each network with a
 * maximum picks at most one key that is due (host/keyage_due.c) and
 * rotates it through the manual rotation (rotate_guest_on_network(), which
 * takes h->mu only around its store reads and writes). Rotations run one at
 * a time, from this thread, at least KEYAGE_GAP_MS apart: never two in the
 * same second, never two on one network. A failed one (guest down,
 * timeout) is logged, counted and retried after a backoff; rotate.c
 * aborted it before anything was removed, so the old key still works.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "host.h"
#include "wgnet/log.h"

#include "keyage.h"
#include "metrics.h"

#define KEYAGE_TICK_MS 1000
#define KEYAGE_GAP_MS 1000

/* A (guest, network) whose last automatic rotation failed. */
struct keyage_fail {
	char guest[ST_NAME_LEN];
	char network_id[ST_ID_LEN];
	unsigned int fails;
	int64_t retry_at; /* unix s */
};

struct keyage {
	struct host *h;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct keyage_fail *fails;
	size_t nfails;
	int64_t last_start_ms; /* monotonic: the last rotation's start */
};

static struct keyage_fail *fail_find(struct keyage *k, const char *guest,
				     const char *nid)
{
	for (size_t i = 0; i < k->nfails; i++)
		if (!strcmp(k->fails[i].guest, guest) &&
		    !strcmp(k->fails[i].network_id, nid))
			return &k->fails[i];
	return NULL;
}

static void fail_clear(struct keyage *k, const char *guest, const char *nid)
{
	struct keyage_fail *f = fail_find(k, guest, nid);

	if (f)
		*f = k->fails[--k->nfails];
}

static void fail_note(struct keyage *k, const char *guest, const char *nid,
		      int64_t now)
{
	struct keyage_fail *f = fail_find(k, guest, nid);

	if (!f) {
		f = realloc(k->fails, (k->nfails + 1) * sizeof(*f));
		if (!f)
			return;
		k->fails = f;
		f = &k->fails[k->nfails++];
		memset(f, 0, sizeof(*f));
		snprintf(f->guest, sizeof(f->guest), "%s", guest);
		snprintf(f->network_id, sizeof(f->network_id), "%s", nid);
	}
	f->fails++;
	f->retry_at = now + keyage_backoff_s(f->fails);
}

/* Keep the keys of the guests this host serves: in a shared store, each
 * host rotates its own (a network spanning hosts cannot be rotated, and
 * its host says so in its failures). */
static int guest_cmp(const void *a, const void *b)
{
	return strcmp(((const struct st_guest *)a)->name,
		      ((const struct st_guest *)b)->name);
}

static size_t keep_ours(struct host *h, struct st_guest_net *gns, size_t ngn,
			struct st_guest *gs, size_t ng)
{
	struct st_guest key;
	size_t k = 0;

	if (!ng)
		return 0; /* no guest: none of ours (and no NULL to qsort) */
	qsort(gs, ng, sizeof(*gs), guest_cmp);
	for (size_t i = 0; i < ngn; i++) {
		const struct st_guest *g;

		snprintf(key.name, sizeof(key.name), "%s", gns[i].guest);
		g = bsearch(&key, gs, ng, sizeof(*gs), guest_cmp);
		if (g && host_owns_guest(h, g))
			gns[k++] = gns[i];
	}
	return k;
}

static int read_store(struct host *h, struct st_network **ns, size_t *nn,
		      struct st_guest_net **gns, size_t *ngn)
{
	struct st_guest *gs = NULL;
	size_t ng = 0;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = h->st->ops->network_list(h->st, ns, nn);
	if (!rc)
		rc = h->st->ops->guest_net_list(h->st, NULL, gns, ngn);
	if (!rc)
		rc = h->st->ops->guest_list(h->st, &gs, &ng);
	pthread_mutex_unlock(&h->mu);
	if (rc) {
		free(*ns);
		free(*gns);
		*ns = NULL;
		*gns = NULL;
		*nn = *ngn = 0;
		return rc;
	}
	*ngn = keep_ours(h, *gns, *ngn, gs, ng);
	free(gs);
	return 0;
}

/* The key of n to rotate now (index in gns), or -1. */
static int pick_on(struct keyage *k, const struct st_network *n,
		   const struct st_guest_net *gns, size_t ngn,
		   struct keyage_cand *cs, const struct st_guest_net **map,
		   int64_t now)
{
	int64_t max = keyage_max_age(k->h, n);
	size_t nc = 0;
	int i;

	if (!max)
		return -1;
	for (size_t j = 0; j < ngn; j++) {
		const struct keyage_fail *f;

		if (strcmp(gns[j].network_id, n->id))
			continue;
		f = fail_find(k, gns[j].guest, n->id);
		cs[nc].guest = gns[j].guest;
		cs[nc].created = gns[j].key_created;
		cs[nc].retry_at = f ? f->retry_at : 0;
		map[nc++] = &gns[j];
	}
	i = keyage_pick(cs, nc, n->id, max, now);
	return i < 0 ? -1 : (int)(map[i] - gns);
}

static void rotate_one(struct keyage *k, const struct st_network *n,
		       const struct st_guest_net *gn, int64_t now)
{
	int64_t age = gn->key_created ? now - gn->key_created : -1;
	char *em = NULL;
	int rc;

	k->last_start_ms = host_now_ms();
	log_info(
		"network %s: the key of guest %s is %s%llds old (maximum %llds): rotating",
		n->name, gn->guest, age < 0 ? "of unknown age, not " : "",
		(long long)(age < 0 ? 0 : age),
		(long long)keyage_max_age(k->h, n));
	rc = rotate_guest_on_network(k->h, n, gn->guest, "max_age", &em);
	if (!rc) {
		fail_clear(k, gn->guest, n->id);
	} else if (rc == -EBUSY) {
		/* A manual rotation of the network is running: next tick. */
		log_debug("network %s: %s", n->name, em ? em : "busy");
	} else {
		int64_t t = time(NULL);
		const struct keyage_fail *f;

		fail_note(k, gn->guest, n->id, t);
		f = fail_find(k, gn->guest, n->id);
		log_warn(
			"network %s: automatic rotation of guest %s failed (%s); the old key stays in use, retry in %llds",
			n->name, gn->guest, em ? em : strerror(-rc),
			(long long)(f ? f->retry_at - t :
					KEYAGE_BACKOFF_MIN_S));
	}
	free(em);
}

/* One pass: at most one rotation per network, KEYAGE_GAP_MS apart. */
static void keyage_pass(struct keyage *k)
{
	struct st_network *ns = NULL;
	struct st_guest_net *gns = NULL;
	const struct st_guest_net **map = NULL;
	struct keyage_cand *cs = NULL;
	size_t nn = 0, ngn = 0;

	if (read_store(k->h, &ns, &nn, &gns, &ngn))
		return;
	cs = calloc(ngn + 1, sizeof(*cs));
	map = calloc(ngn + 1, sizeof(*map));
	if (!cs || !map)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		int j = pick_on(k, &ns[i], gns, ngn, cs, map, time(NULL));
		bool stop;

		if (j < 0)
			continue;
		pthread_mutex_lock(&k->mu);
		stop = k->stop;
		pthread_mutex_unlock(&k->mu);
		if (stop)
			break;
		while (host_now_ms() - k->last_start_ms < KEYAGE_GAP_MS)
			usleep(50 * 1000);
		rotate_one(k, &ns[i], &gns[j], time(NULL));
	}
out:
	free(cs);
	free(map);
	free(ns);
	free(gns);
}

static void *keyage_main(void *arg)
{
	struct keyage *k = arg;
	struct timespec ts;

	pthread_mutex_lock(&k->mu);
	while (!k->stop) {
		pthread_mutex_unlock(&k->mu);
		keyage_pass(k);
		pthread_mutex_lock(&k->mu);
		deadline_in_ms(&ts, KEYAGE_TICK_MS);
		while (!k->stop &&
		       pthread_cond_timedwait(&k->cv, &k->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

int keyage_start(struct host *h, struct keyage **out)
{
	struct keyage *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->h = h;
	k->last_start_ms = host_now_ms() - KEYAGE_GAP_MS;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->th, NULL, keyage_main, k)) {
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k);
		return -EAGAIN;
	}
	*out = k;
	return 0;
}

void keyage_stop(struct keyage *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k->fails);
	free(k);
}
