// SPDX-License-Identifier: GPL-2.0
/* Latency histograms for /metrics (host/metrics.h). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define HIST_MAX 64
#define HIST_NB 14

static const double bounds[HIST_NB] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
					0.025,	0.05,  0.1,    0.25,  0.5,
					1,	2.5,   5,      10 };

struct hist {
	char family[8];
	char name[64];
	uint64_t bucket[HIST_NB]; /* non-cumulative here */
	uint64_t count;
	double sum;
};

static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hist hists[HIST_MAX];
static size_t n_hists;

void metrics_observe(const char *family, const char *name, double seconds)
{
	struct hist *h = NULL;

	if (!family || !name || strlen(family) >= sizeof(h->family) ||
	    strlen(name) >= sizeof(h->name))
		return;
	pthread_mutex_lock(&hist_mu);
	for (size_t i = 0; i < n_hists && !h; i++)
		if (!strcmp(hists[i].family, family) &&
		    !strcmp(hists[i].name, name))
			h = &hists[i];
	if (!h && n_hists < HIST_MAX) {
		h = &hists[n_hists++];
		strcpy(h->family, family);
		strcpy(h->name, name);
	}
	if (h) {
		size_t k = 0;

		while (k < HIST_NB && seconds > bounds[k])
			k++;
		if (k < HIST_NB)
			h->bucket[k]++;
		h->count++;
		h->sum += seconds;
	}
	pthread_mutex_unlock(&hist_mu);
}

void metrics_hist_render(struct mbuf *b, const char *family, const char *metric,
			 const char *help, const char *label)
{
	struct hist *copy;
	size_t n;

	copy = calloc(HIST_MAX, sizeof(*copy));
	if (!copy) {
		b->err = -ENOMEM;
		return;
	}
	pthread_mutex_lock(&hist_mu);
	n = n_hists;
	memcpy(copy, hists, n * sizeof(*copy));
	pthread_mutex_unlock(&hist_mu);
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", metric, help,
		    metric);
	for (size_t i = 0; i < n; i++) {
		uint64_t cum = 0;

		if (strcmp(copy[i].family, family))
			continue;
		for (size_t k = 0; k < HIST_NB; k++) {
			cum += copy[i].bucket[k];
			mbuf_printf(b, "%s_bucket{%s=\"", metric, label);
			mbuf_label(b, copy[i].name);
			mbuf_printf(b, "\",le=\"%g\"} %llu\n", bounds[k],
				    (unsigned long long)cum);
		}
		mbuf_printf(b, "%s_bucket{%s=\"", metric, label);
		mbuf_label(b, copy[i].name);
		mbuf_printf(b, "\",le=\"+Inf\"} %llu\n",
			    (unsigned long long)copy[i].count);
		mbuf_printf(b, "%s_sum{%s=\"", metric, label);
		mbuf_label(b, copy[i].name);
		mbuf_printf(b, "\"} %.9f\n", copy[i].sum);
		mbuf_printf(b, "%s_count{%s=\"", metric, label);
		mbuf_label(b, copy[i].name);
		mbuf_printf(b, "\"} %llu\n", (unsigned long long)copy[i].count);
	}
	free(copy);
}

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap ? b->cap * 2 : 65536;
			char *p;

			while (cap < b->len + (size_t)n + 1)
				cap *= 2;
			p = realloc(b->p, cap);
			if (!p) {
				b->err = -ENOMEM;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

void mbuf_label(struct mbuf *b, const char *v)
{
	for (const char *s = v ? v : ""; *s; s++) {
		if (*s == '\\')
			mbuf_printf(b, "\\\\");
		else if (*s == '"')
			mbuf_printf(b, "\\\"");
		else if (*s == '\n')
			mbuf_printf(b, "\\n");
		else
			mbuf_printf(b, "%c", *s);
	}
}
