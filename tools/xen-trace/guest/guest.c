/*
 * The xen-trace hypercall guest: runs a compiled-in list of memory_op
 * hypercalls on its own domain and prints each call, its return value and
 * the frames it named on Xen's console (console_io, which Xen grants to
 * every dom0less domU).  ops.h, written by xentrace.py per domain, defines
 * GUEST_NAME, SLOT_TICKS_DIVISOR and OPS (one initialiser per operation).
 * Operation K waits until (slot + 1) / SLOT_TICKS_DIVISOR seconds after the
 * guest's start, so that the guests of one case keep the case's order.
 *
 * Output lines, all starting with "XHC ":
 *   XHC start NAME                         the guest runs
 *   XHC op K CMD order=O nr=N              about to call memory_op(CMD)
 *   XHC rc K RC                            memory_op's return value
 *   XHC ext K I gfn=G                      extent I of operation K
 *   XHC seen K G stamp NAME GFN            a populated page holds a stamp
 *   XHC seen K G data W                    ... or holds W in its first word
 *   XHC trap ESR FAR ELR                   an exception (instruction skipped)
 *   XHC end NAME                           all operations done
 *   XHC shutdown returned RC               SCHEDOP_shutdown came back (only
 *                                          with SHUTDOWN_REASON defined)
 */
#include <stdint.h>

#define CONSOLE_IO 18
#define CONSOLEIO_WRITE 0
#define MEMORY_OP 12
#define SCHED_OP 29
#define SCHEDOP_SHUTDOWN 2
#define DOMID_SELF 0x7ff0U
#define STAMP 0x504d415453435848ULL /* "HXCSTAMP" */
#define MAX_EXTENTS 4096

struct op {
	uint32_t cmd;         /* XENMEM_*: 0 increase, 1 decrease, 6 populate */
	uint32_t order;
	uint64_t nr;
	uint64_t first_gfn;   /* extents are first_gfn + i << order */
	uint64_t slot;        /* global position of the operation in ops.txt */
};

struct reservation {
	uint64_t extent_start;
	uint64_t nr_extents;
	uint32_t extent_order;
	uint32_t mem_flags;
	uint16_t domid;
	uint16_t pad[3];
};

#include "ops.h"

static const struct op ops[] = { OPS };
static uint64_t extents[MAX_EXTENTS];
static struct reservation resv;
static char line[160];
static unsigned int len;
static long rc_shutdown __attribute__((unused));

long hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);

static void put(const char *s)
{
	while (*s && len < sizeof(line) - 1)
		line[len++] = *s++;
}

static void hex(uint64_t v)
{
	char buf[19];
	int i = 18;

	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	put(buf + i);
}

static void dec(int64_t v)
{
	char buf[24];
	int i = 23;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	buf[i] = 0;
	do {
		buf[--i] = '0' + (char)(u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[--i] = '-';
	put(buf + i);
}

static void flush(void)
{
	line[len++] = '\n';
	hypercall(CONSOLE_IO, CONSOLEIO_WRITE, len, (uint64_t)(uintptr_t)line);
	len = 0;
}

void on_trap(uint64_t esr, uint64_t far, uint64_t elr)
{
	len = 0;
	put("XHC trap ");
	hex(esr);
	put(" ");
	hex(far);
	put(" ");
	hex(elr);
	flush();
}

static uint64_t ticks(void)
{
	uint64_t t;

	__asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(t));
	return t;
}

static uint64_t frequency(void)
{
	uint64_t f;

	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
	return f;
}

static uint64_t name_word(void)
{
	const char *s = GUEST_NAME;
	uint64_t w = 0;
	int i;

	for (i = 0; i < 8 && s[i]; i++)
		w |= (uint64_t)(unsigned char)s[i] << (8 * i);
	return w;
}

static void name_put(uint64_t w)
{
	char buf[9];
	int i;

	for (i = 0; i < 8; i++)
		buf[i] = (char)(w >> (8 * i));
	buf[8] = 0;
	put(buf);
}

/* Marks every page about to be ballooned out, so a later owner can see it. */
static void stamp(const struct op *op)
{
	uint64_t i;

	for (i = 0; i < op->nr; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(extents[i] << 12);

		p[0] = STAMP;
		p[1] = name_word();
		p[2] = extents[i];
	}
}

static void look(unsigned int k, long done)
{
	long i;

	for (i = 0; i < done; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(extents[i] << 12);
		uint64_t w0 = p[0];

		put("XHC seen ");
		dec(k);
		put(" ");
		hex(extents[i]);
		if (w0 == STAMP) {
			put(" stamp ");
			name_put(p[1]);
			put(" ");
			hex(p[2]);
		} else {
			put(" data ");
			hex(w0);
		}
		flush();
	}
}

void main(void)
{
	uint64_t start = ticks(), slot = frequency() / SLOT_TICKS_DIVISOR;
	unsigned int k;
	uint64_t i;

	put("XHC start " GUEST_NAME);
	flush();
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		const struct op *op = &ops[k];
		long rc;

		while (ticks() < start + (op->slot + 1) * slot)
			;
		for (i = 0; i < op->nr && i < MAX_EXTENTS; i++)
			extents[i] = op->first_gfn + (i << op->order);
		if (op->cmd == 1)
			stamp(op);
		put("XHC op ");
		dec(k);
		put(op->cmd == 0 ? " increase_reservation" : op->cmd == 1 ? " decrease_reservation" : " populate_physmap");
		put(" order=");
		dec(op->order);
		put(" nr=");
		dec((int64_t)op->nr);
		flush();
		resv.extent_start = (uint64_t)(uintptr_t)extents;
		resv.nr_extents = op->nr;
		resv.extent_order = op->order;
		resv.mem_flags = 0;
		resv.domid = DOMID_SELF;
		rc = hypercall(MEMORY_OP, op->cmd, (uint64_t)(uintptr_t)&resv, 0);
		put("XHC rc ");
		dec(k);
		put(" ");
		dec(rc);
		flush();
		if (op->cmd != 0) {
			for (i = 0; i < op->nr; i++) {
				put("XHC ext ");
				dec(k);
				put(" ");
				dec((int64_t)i);
				put(" gfn=");
				hex(extents[i]);
				flush();
			}
		}
		if (op->cmd == 6 && rc > 0)
			look(k, rc);
	}
	put("XHC end " GUEST_NAME);
	flush();
#ifdef SHUTDOWN_REASON
	{
		static uint32_t reason = SHUTDOWN_REASON;

		rc_shutdown = hypercall(SCHED_OP, SCHEDOP_SHUTDOWN, (uint64_t)(uintptr_t)&reason, 0);
		put("XHC shutdown returned ");
		dec(rc_shutdown);
		flush();
	}
#endif
}
