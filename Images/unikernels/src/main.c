/* The portable part of the test unikernel: prints its command line and one
 * line per word on the PV console, then acts on the words it knows:
 *   exit=N  writes "exited:N" to the xenstore key data/runxl/exit (runxl's
 *           guest protocol, GuestKeys.exit / GuestExitStatus.encoded);
 *   crash   ends with SCHEDOP_shutdown(SHUTDOWN_crash);
 *   sleep   prints "sleeping" and blocks (SCHEDOP_poll on the xenstore event
 *           channel, a watch on control/shutdown) until the toolstack asks
 *           for a shutdown there ("poweroff", "reboot", ...), then obeys it;
 * otherwise it ends with SHUTDOWN_poweroff.
 * A domU may not use the console_io hypercall on a release Xen (the dummy XSM
 * policy refuses it), so everything goes through the console ring. */
#include "xen.h"

#define EXIT_KEY "data/runxl/exit"

/* x86 keeps stores in order, but the compiler must not move ring accesses
 * across the index updates; the fence also orders index stores before the
 * loads that follow. */
static inline void ring_barrier(void) { __asm__ volatile("mfence" ::: "memory"); }

static void notify(uint32_t port)
{
    struct evtchn_send send = { .port = port };
    hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&send);
}

static void yield(void) { hypercall2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0); }

static const struct guest *current;

static size_t length(const char *text)
{
    size_t n = 0;
    while (text[n])
        n++;
    return n;
}

/* Waits (yielding) until xenconsoled has room; gives up after a bounded
 * number of tries so a guest without a console daemon still ends. */
static void console_write(const char *text, size_t count)
{
    volatile struct xencons_interface *ring = current->console;
    if (!ring)
        return;
    size_t sent = 0;
    unsigned int tries = 0;
    while (sent < count) {
        XENCONS_RING_IDX consumer = ring->out_cons;
        XENCONS_RING_IDX producer = ring->out_prod;
        ring_barrier();
        if (producer - consumer >= sizeof(ring->out)) {
            notify(current->console_port);
            yield();
            if (++tries > 100000)
                return;
            continue;
        }
        while (sent < count && producer - consumer < sizeof(ring->out)) {
            ring->out[MASK_XENCONS_IDX(producer, ring->out)] = text[sent++];
            producer++;
        }
        ring_barrier();
        ring->out_prod = producer;
        notify(current->console_port);
    }
}

static void print(const char *text) { console_write(text, length(text)); }

/* Lets xenconsoled drain the ring before the domain goes: with
 * on_poweroff="destroy" whatever is still in the ring would be lost. */
static void console_flush(void)
{
    volatile struct xencons_interface *ring = current->console;
    if (!ring)
        return;
    for (unsigned int tries = 0; tries < 100000 && ring->out_cons != ring->out_prod; tries++) {
        notify(current->console_port);
        yield();
    }
}

static void print_number(unsigned long value)
{
    char digits[24];
    int n = sizeof(digits);
    digits[--n] = 0;
    do {
        digits[--n] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    print(digits + n);
}

static int store_put(const void *data, uint32_t count)
{
    volatile struct xenstore_domain_interface *ring = current->store;
    const char *bytes = data;
    unsigned int tries = 0;
    while (count) {
        XENSTORE_RING_IDX consumer = ring->req_cons;
        XENSTORE_RING_IDX producer = ring->req_prod;
        ring_barrier();
        if (producer - consumer >= XENSTORE_RING_SIZE) {
            notify(current->store_port);
            yield();
            if (++tries > 1000000)
                return -1;
            continue;
        }
        while (count && producer - consumer < XENSTORE_RING_SIZE) {
            ring->req[MASK_XENSTORE_IDX(producer)] = *bytes++;
            producer++;
            count--;
        }
        ring_barrier();
        ring->req_prod = producer;
        notify(current->store_port);
    }
    return 0;
}

static int store_get(void *data, uint32_t count)
{
    volatile struct xenstore_domain_interface *ring = current->store;
    char *bytes = data;
    unsigned int tries = 0;
    while (count) {
        XENSTORE_RING_IDX consumer = ring->rsp_cons;
        XENSTORE_RING_IDX producer = ring->rsp_prod;
        ring_barrier();
        if (producer == consumer) {
            yield();
            if (++tries > 1000000)
                return -1;
            continue;
        }
        while (count && consumer != producer) {
            *bytes++ = ring->rsp[MASK_XENSTORE_IDX(consumer)];
            consumer++;
            count--;
        }
        ring_barrier();
        ring->rsp_cons = consumer;
        notify(current->store_port);
    }
    return 0;
}

/* Reads the next reply, skipping the watch events xenstored interleaves
 * with replies once a watch is registered. The payload is NUL-terminated. */
static int store_reply(struct xsd_sockmsg *reply, char *payload)
{
    for (;;) {
        if (store_get(reply, sizeof(*reply)) || reply->len > XENSTORE_PAYLOAD_MAX
            || store_get(payload, reply->len))
            return -1;
        payload[reply->len] = 0;
        if (reply->type != XS_WATCH_EVENT)
            return 0;
    }
}

/* One request made of up to two NUL-separated parts ("path\0value" for a
 * write, "path\0token\0" for a watch) and its reply; a relative path is
 * resolved by xenstored against this domain's /local/domain/<domid>, so the
 * guest never needs its own domid. Returns the reply payload or NULL. */
static const char *store_request(uint32_t type, const char *first, const char *second, int second_terminated)
{
    static char payload[XENSTORE_PAYLOAD_MAX + 1];
    if (!current->store) {
        print("xenstore: no ring\n");
        return NULL;
    }
    uint32_t first_size = (uint32_t)length(first) + 1;
    uint32_t second_size = second ? (uint32_t)length(second) + (second_terminated ? 1 : 0) : 0;
    struct xsd_sockmsg request = { .type = type, .req_id = 1, .tx_id = 0, .len = first_size + second_size };
    if (store_put(&request, sizeof(request)) || store_put(first, first_size)
        || (second && store_put(second, second_size))) {
        print("xenstore: request not taken\n");
        return NULL;
    }
    struct xsd_sockmsg reply;
    if (store_reply(&reply, payload)) {
        print("xenstore: no reply\n");
        return NULL;
    }
    if (reply.type == XS_ERROR) {
        /* A key not yet written reads as ENOENT: not worth a line. */
        if (type != XS_READ) {
            print("xenstore: request refused: ");
            print(payload);
            print("\n");
        }
        return NULL;
    }
    return payload;
}

static int store_write(const char *path, const char *value)
{
    return store_request(XS_WRITE, path, value, 0) ? 0 : -1;
}

void shutdown(unsigned int reason)
{
    struct sched_shutdown request = { .reason = reason };
    for (;;)
        hypercall2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (unsigned long)&request);
}

/* Clears the pending bit of a port (two-level event channels), so that
 * the next SCHEDOP_poll blocks until xenstored signals again. */
static void clear_pending(uint32_t port)
{
    volatile xen_ulong_t *word = &current->shared->evtchn_pending[port / (sizeof(xen_ulong_t) * 8)];
    __atomic_fetch_and(word, ~((xen_ulong_t)1 << (port % (sizeof(xen_ulong_t) * 8))), __ATOMIC_SEQ_CST);
}

/* Whether the response ring holds bytes nobody asked for: with no request
 * outstanding, that is a watch event. */
static int store_has_unread(void)
{
    volatile struct xenstore_domain_interface *ring = current->store;
    XENSTORE_RING_IDX producer = ring->rsp_prod;
    ring_barrier();
    return producer != ring->rsp_cons;
}

/* Blocks until control/shutdown holds a request and returns it.
 *
 * Only a watch event ends the wait, never the key's own reads: every
 * request and reply raises the xenstore event channel again, so a loop that
 * read the key after clearing the pending bit would find it set at once and
 * spin. The bit is cleared before the ring is checked, so an event that
 * lands after the check still wakes the poll. Events stay masked: nothing is
 * delivered, SCHEDOP_poll only watches the bit. */
static const char *wait_for_shutdown_request(void)
{
    static char request[64];
    static char event[XENSTORE_PAYLOAD_MAX + 1];
    if (!current->shared) {
        print("sleep: no shared info page\n");
        return "poweroff";
    }
    current->shared->vcpu_info[0].evtchn_upcall_mask = 1;
    if (!store_request(XS_WATCH, "control/shutdown", "sleep", 1))
        return "poweroff";
    evtchn_port_t port = current->store_port;
    int poll_failed = 0;
    for (;;) {
        const char *value = store_request(XS_READ, "control/shutdown", 0, 0);
        if (value && *value) {
            size_t n = 0;
            for (; value[n] && n < sizeof(request) - 1; n++)
                request[n] = value[n];
            request[n] = 0;
            return request;
        }
        for (;;) {
            clear_pending(port);
            if (store_has_unread())
                break;
            struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
            set_xen_guest_handle(poll.ports, &port);
            if (hypercall2(__HYPERVISOR_sched_op, SCHEDOP_poll, (unsigned long)&poll) != 0) {
                if (!poll_failed++)
                    print("sleep: SCHEDOP_poll refused, yielding instead\n");
                yield();
            }
        }
        /* The watch event itself: read and dropped, the key is read again. */
        struct xsd_sockmsg header;
        if (store_get(&header, sizeof(header)) || header.len > XENSTORE_PAYLOAD_MAX
            || store_get(event, header.len))
            return "poweroff";
    }
}

static int same(const char *a, const char *b);

static int starts_with(const char *text, const char *prefix)
{
    while (*prefix)
        if (*text++ != *prefix++)
            return 0;
    return 1;
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Decimal 0...255 only, as GuestExitStatus accepts; -1 otherwise. */
static int exit_code(const char *text)
{
    int value = 0;
    if (!*text)
        return -1;
    for (; *text; text++) {
        if (*text < '0' || *text > '9')
            return -1;
        value = value * 10 + (*text - '0');
        if (value > 255)
            return -1;
    }
    return value;
}

void guest_main(const struct guest *guest)
{
    current = guest;
    static char words[MAX_GUEST_CMDLINE + 1];
    const char *cmdline = guest->cmdline ? guest->cmdline : "";

    print("unikernel ");
    print(guest->flavour);
    print(": cmdline \"");
    print(cmdline);
    print("\"\n");

    size_t n = 0;
    for (; cmdline[n] && n < MAX_GUEST_CMDLINE; n++)
        words[n] = cmdline[n] == ' ' ? 0 : cmdline[n];
    words[n] = 0;

    int requested_exit = -1, crash = 0, sleep = 0;
    unsigned long index = 0;
    for (size_t at = 0; at < n; at++) {
        if (!words[at] || (at && words[at - 1]))
            continue;
        const char *word = &words[at];
        print("arg ");
        print_number(index++);
        print(": ");
        print(word);
        print("\n");
        if (starts_with(word, "exit=")) {
            requested_exit = exit_code(word + 5);
            if (requested_exit < 0)
                print("exit: not a code in 0...255, ignored\n");
        } else if (same(word, "crash")) {
            crash = 1;
        } else if (same(word, "sleep")) {
            sleep = 1;
        }
    }

    unsigned int reason = crash ? SHUTDOWN_crash : SHUTDOWN_poweroff;
    if (sleep && !crash) {
        print("sleeping\n");
        console_flush();
        const char *request = wait_for_shutdown_request();
        print("control/shutdown: ");
        print(request);
        print("\n");
        /* Acknowledge as Linux does: the toolstack sees the request taken. */
        store_write("control/shutdown", "");
        if (same(request, "reboot"))
            reason = SHUTDOWN_reboot;
    }

    if (requested_exit >= 0) {
        char value[16] = "exited:";
        char *end = value + 7;
        if (requested_exit >= 100)
            *end++ = (char)('0' + requested_exit / 100);
        if (requested_exit >= 10)
            *end++ = (char)('0' + requested_exit / 10 % 10);
        *end++ = (char)('0' + requested_exit % 10);
        *end = 0;
        if (store_write(EXIT_KEY, value) == 0) {
            print("exit: wrote " EXIT_KEY " = ");
            print(value);
            print("\n");
        }
    }

    print(reason == SHUTDOWN_crash ? "crash\n" : reason == SHUTDOWN_reboot ? "reboot\n" : "poweroff\n");
    console_flush();
    shutdown(reason);
}
