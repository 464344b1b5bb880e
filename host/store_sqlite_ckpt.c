// SPDX-License-Identifier: GPL-2.0
/*
 * The WAL's checkpoints, off the commit path. SQLite's automatic checkpoint
 * runs inside the COMMIT that takes the WAL past its threshold, fsyncs
 * included: 5-33 ms at 1000 guests here, under the store's one lock, so
 * every store operation of wgnet-host (a connect's commit, a worker's read)
 * waited behind it. Here the connection's WAL hook only notes the WAL's size
 * and wakes a thread that checkpoints through a connection of its own, in
 * PASSIVE mode: it copies the frames no reader still needs and never waits
 * for, nor blocks, the store's connection. The WAL restarts from its
 * beginning at the first write after a complete checkpoint, as before; a
 * WAL that grows past SQ_CKPT_PAGES_MAX all the same (commits without a
 * pause) is checkpointed by the commit.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "wgnet/log.h"

#include "store_sqlite_int.h"

struct sq_ckpt {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db; /* the checkpointer's own connection */
	int pages; /* WAL frames at the last commit (under mu) */
	int last; /* ... when the last checkpoint began */
	struct sq_ckpt_stats stats; /* under mu */
	bool stop;
};

/* Worth a checkpoint: past the threshold, and the WAL either restarted
 * or grew by an eighth since the last one (which could not finish it). */
static bool ckpt_due(const struct sq_ckpt *c)
{
	return c->pages >= SQ_CKPT_PAGES &&
	       (c->pages < c->last || c->pages >= c->last + SQ_CKPT_PAGES / 8);
}

/* The last checkpoint left frames behind (a commit came meanwhile, or a
 * reader held them): once the commits pause, one more completes it, so
 * that the next write restarts the WAL. */
static bool ckpt_pending(const struct sq_ckpt *c)
{
	return c->pages >= SQ_CKPT_PAGES && c->stats.runs &&
	       c->stats.done < c->pages;
}

/* Under mu: until a checkpoint is due, or stop. */
static void ckpt_wait(struct sq_ckpt *c)
{
	while (!c->stop && !ckpt_due(c)) {
		struct timespec ts;

		if (!ckpt_pending(c)) {
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		deadline_in_ms(&ts, SQ_CKPT_RETRY_MS);
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
			return;
	}
}

/* The store connection's WAL hook, run by the committing thread. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_ckpt *c = arg;

	/* The WAL restarts only after a complete checkpoint, which the
	 * thread may never finish while commits keep coming: past this
	 * size the commit checkpoints, as SQLite's own hook does. */
	if (pages >= SQ_CKPT_PAGES_MAX) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
		return SQLITE_OK;
	}
	pthread_mutex_lock(&c->mu);
	c->pages = pages;
	c->stats.pages = pages;
	if (ckpt_due(c))
		pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
	struct sq_ckpt *c = arg;
	int rc, log, done;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		ckpt_wait(c);
		if (c->stop)
			break;
		c->last = c->pages;
		pthread_mutex_unlock(&c->mu);
		log = done = -1;
		rc = sqlite3_wal_checkpoint_v2(
			c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
			log_warn("store: checkpoint: %s",
				 sqlite3_errmsg(c->db));
		pthread_mutex_lock(&c->mu);
		c->stats.runs++;
		c->stats.log = log;
		c->stats.done = done;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int sq_ckpt_start(struct store_sqlite *s)
{
	struct sq_ckpt *c;
	int rc, err = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (!c)
		return err;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	rc = sqlite3_open_v2(s->path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			     NULL);
	/* A connection knows the file is in WAL mode once it has read it;
	 * until then its checkpoints do nothing. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "PRAGMA journal_mode", NULL, NULL,
				  NULL);
	if (rc != SQLITE_OK) {
		err = -EIO;
		goto fail;
	}
	err = -pthread_create(&c->th, NULL, ckpt_main, c);
	if (err)
		goto fail;
	/* Replaces SQLite's automatic checkpoint on the store connection. */
	sqlite3_wal_hook(s->db, ckpt_hook, c);
	s->ckpt = c;
	return 0;
fail:
	sqlite3_close_v2(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return err;
}

void sq_ckpt_stats(struct store_sqlite *s, struct sq_ckpt_stats *out)
{
	struct sq_ckpt *c = s->ckpt;

	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}

void sq_ckpt_stop(struct store_sqlite *s)
{
	struct sq_ckpt *c = s->ckpt;

	if (!c)
		return;
	sqlite3_wal_hook(s->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	sqlite3_close_v2(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	s->ckpt = NULL;
}
