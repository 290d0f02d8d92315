/*
 * Entry of the xen-trace hypercall guest: an arm64 Linux Image header, so
 * that Xen's kernel loader takes the file as a domU kernel, then a minimal
 * EL1 start (MMU off): exception vectors, a stack, a zeroed bss, main().
 */
	.section .head, "ax"
	.global _head
_head:
	b	start			/* code0: branch to the start code */
	.long	0			/* code1 */
	.quad	0			/* text_offset: load at the start of RAM */
	.quad	_image_size		/* image_size, including bss and stack */
	.quad	0xa			/* flags: little endian, 4K pages, anywhere */
	.quad	0, 0, 0			/* res2..res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5 */

	.text
start:
	msr	daifset, #0xf
	adr	x1, vectors
	msr	vbar_el1, x1
	isb
	adr	x1, _bss_start
	adr	x2, _bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	adr	x1, _stack_top
	mov	sp, x1
	bl	main
3:	wfi
	b	3b

/* hypercall(nr, a0, a1, a2): the Arm hypercall ABI, x16 = number, hvc #0xea1 */
	.global hypercall
hypercall:
	mov	x16, x0
	mov	x0, x1
	mov	x1, x2
	mov	x2, x3
	hvc	#0xea1
	ret

/* Any synchronous exception: report it, skip the faulting instruction. */
	.balign	2048
vectors:
	.rept	16
	.balign	128
	b	trap
	.endr

trap:
	sub	sp, sp, #160
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x30, [sp, #144]
	mrs	x0, esr_el1
	mrs	x1, far_el1
	mrs	x2, elr_el1
	bl	on_trap
	mrs	x0, elr_el1
	add	x0, x0, #4
	msr	elr_el1, x0
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x30, [sp, #144]
	add	sp, sp, #160
	eret
