/* The HTTP server: libmicrohttpd with a thread per connection (so a paced
 * download only holds its own connection) and the dispatch of requests to
 * the route modules. */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stddef.h>

#include "simhttp.h"
#include "state.h"

/* Listens on bind_addr:port (port 0: any free port) and serves st, which
 * must outlive the server. srv->base_url is then the URL to print. */
int sim_server_start(sim_server *srv, sim_state *st, const char *bind_addr, unsigned port,
                     char *err, size_t errsz);
/* Stops accepting, ends open connections (paced downloads give up) and
 * waits for their threads. */
void sim_server_stop(sim_server *srv);

#endif
