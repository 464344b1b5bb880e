/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's control protocol over a virtio-serial port (a VM without
 * vhost-vsock): the same frames as on a socket, one request answered at a
 * time. The host side is a socket chardev that serves one client at a time;
 * each client connection carries one request and reads one reply.
 */
#ifndef WGNET_GUEST_SERIAL_H
#define WGNET_GUEST_SERIAL_H

struct agent;
struct serial;

/**
 * serial_open() - open a virtio-serial port for the control protocol
 * @path: the port, e.g. /dev/virtio-ports/wgnet
 *
 * Blocks SIGIO (it is read through a signalfd that wakes the agent when the
 * host side connects). Returns NULL with errno set on failure.
 */
struct serial *serial_open(const char *path);
void serial_free(struct serial *s);

/**
 * serial_fd() - the descriptor to poll for POLLIN now
 *
 * The port while a host is connected; while none is, the port reports
 * POLLHUP without end, so this is the signalfd that fires when one connects.
 */
int serial_fd(const struct serial *s);

/**
 * serial_handle() - work after serial_fd() polled readable or hung up
 *
 * Reads what is there, answers every complete request through ag_dispatch(),
 * and notices a host that went away (a frame cut short is dropped; input is
 * resynchronised on the frame magic).
 */
void serial_handle(struct agent *ag, struct serial *s);

#endif
