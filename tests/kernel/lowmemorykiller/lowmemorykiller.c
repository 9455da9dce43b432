// SPDX-License-Identifier: GPL-2.0
/*
 * lowmemorykiller: a test reproduction, written for the lowmem.hardening
 * Ansible collection's test bed, of the user-visible behaviour of Android's
 * staging driver drivers/staging/android/lowmemorykiller.c (mainline
 * 2.6.29-4.11, built-in only there).  It is a loadable module for a modern
 * kernel (Debian 12, 6.1) so that tests see:
 *
 *  - /sys/module/lowmemorykiller/parameters/{adj,minfree,cost,debug_level},
 *    with adj and minfree handled by the kernel's own param_array code;
 *  - optionally, Android's oom_adj -> oom_score_adj autodetection on writes
 *    to adj (load-time switch android_autodetect=1);
 *  - a real SIGKILL sent from a shrinker under memory pressure, logged in
 *    the 3.10-4.4 or the 4.9-4.11 record format (load-time switch
 *    record_format=3.10|4.4|4.9).
 *
 * It is not the original code; see README.md for what is approximated.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/oom.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/shrinker.h>
#include <linux/string.h>
#include <linux/vmstat.h>

#define LOWMEM_ARRAY_MAX	6

/* Log levels of the mainline driver (3.10-4.11). */
#define LOWMEM_LVL_KILL		1	/* "send sigkill ..." / "Killing ..." */
#define LOWMEM_LVL_SELECT	2	/* "select ..., to kill" candidates */
#define LOWMEM_LVL_SCAN		3	/* "lowmem_scan ..., ofree ..." */
#define LOWMEM_LVL_RETURN	4
#define LOWMEM_LVL_NOTHING	5

/* ---- sysfs-visible parameters (mode 0644, as the staging driver) ---- */

static short lowmem_adj[LOWMEM_ARRAY_MAX] = { 0, 1, 6, 12 };
static unsigned int lowmem_adj_size = 4;
static int lowmem_minfree[LOWMEM_ARRAY_MAX] = {
	3 * 512,	/* 6 MiB with 4 KiB pages */
	2 * 1024,	/* 8 MiB */
	4 * 1024,	/* 16 MiB */
	16 * 1024,	/* 64 MiB */
};
static unsigned int lowmem_minfree_size = 4;
static unsigned int lowmem_debug_level = 1;

/* ---- load-time switches (mode 0: no sysfs file) ---- */

static bool android_autodetect;
module_param(android_autodetect, bool, 0);
MODULE_PARM_DESC(android_autodetect,
		 "Emulate CONFIG_ANDROID_LOW_MEMORY_KILLER_AUTODETECT_OOM_ADJ_VALUES (load time only)");

static char *record_format = "3.10";
module_param(record_format, charp, 0);
MODULE_PARM_DESC(record_format,
		 "Kill record style: 3.10 (same as 4.4) or 4.9 (load time only)");

/*
 * How long a victim may take to die before another is chosen.  The driver
 * waits HZ (one second).  Under QEMU's TCG the guest runs many times slower
 * than on hardware while jiffies keep real time, so an exit that takes a
 * fraction of a second on a board can take longer than HZ there; the test
 * VMs stretch the wait (tests/kernel/vm.py) so a kill is not followed by a
 * second one only because the emulation is slow.
 */
static unsigned int deathpending_ms = 1000;
module_param(deathpending_ms, uint, 0);
MODULE_PARM_DESC(deathpending_ms,
		 "How long to wait for a victim to die before choosing another, in ms (load time only)");

enum lowmem_record_style {
	LOWMEM_RECORD_310,	/* 3.10 to 4.4 */
	LOWMEM_RECORD_49,	/* 4.9 to 4.11 */
};
static enum lowmem_record_style lowmem_record_style = LOWMEM_RECORD_310;

#define lowmem_print(level, x...)			\
	do {						\
		if (lowmem_debug_level >= (level))	\
			pr_info(x);			\
	} while (0)

/* ---- Android's oom_adj autodetection ---- */

static short lowmem_oom_adj_to_score_adj(short oom_adj)
{
	if (oom_adj == OOM_ADJUST_MAX)
		return OOM_SCORE_ADJ_MAX;
	/* C integer division, truncating toward zero, stored as a short. */
	return (short)((int)oom_adj * OOM_SCORE_ADJ_MAX / -OOM_DISABLE);
}

/*
 * If the last stored element looks like an old-style oom_adj (at most
 * OOM_ADJUST_MAX, and its converted value would exceed it), convert the
 * whole stored table to oom_score_adj values.
 */
static void lowmem_autodetect_adj(void)
{
	unsigned int n = min_t(unsigned int, lowmem_adj_size, LOWMEM_ARRAY_MAX);
	unsigned int i;
	short last;

	if (!n)
		return;
	last = lowmem_adj[n - 1];
	if (last > OOM_ADJUST_MAX ||
	    lowmem_oom_adj_to_score_adj(last) <= OOM_ADJUST_MAX)
		return;

	lowmem_print(1, "lowmem_shrink: convert oom_adj to oom_score_adj:\n");
	for (i = 0; i < n; i++) {
		short old = lowmem_adj[i];
		short new = lowmem_oom_adj_to_score_adj(old);

		lowmem_adj[i] = new;
		lowmem_print(1, "oom_adj %d => oom_score_adj %d\n", old, new);
	}
}

/* adj was given on the insmod line before android_autodetect=1 was parsed */
static bool lowmem_adj_set_before_switch;

/*
 * adj is always parsed by the kernel's param_array_ops.  Without the
 * switch this is a plain pass-through, i.e. exactly what
 * module_param_array_named(adj, lowmem_adj, short, ...) would do.
 */
static int lowmem_adj_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_array_ops.set(val, kp);

	if (!android_autodetect) {
		lowmem_adj_set_before_switch = true;
		return ret;
	}
	/* Android runs this even when the write failed (truncated table). */
	lowmem_autodetect_adj();
	return ret;
}

static int lowmem_adj_get(char *buffer, const struct kernel_param *kp)
{
	return param_array_ops.get(buffer, kp);
}

static void lowmem_adj_free(void *arg)
{
	if (param_array_ops.free)
		param_array_ops.free(arg);
}

static const struct kernel_param_ops lowmem_adj_ops = {
	.set = lowmem_adj_set,
	.get = lowmem_adj_get,
	.free = lowmem_adj_free,
};

/* The same kparam_array module_param_array_named(..., short, ...) builds. */
param_check_short(adj, &lowmem_adj[0]);
static const struct kparam_array lowmem_adj_arr = {
	.max = ARRAY_SIZE(lowmem_adj),
	.num = &lowmem_adj_size,
	.ops = &param_ops_short,
	.elemsize = sizeof(lowmem_adj[0]),
	.elem = lowmem_adj,
};
__module_param_call(MODULE_PARAM_PREFIX, adj, &lowmem_adj_ops,
		    .arr = &lowmem_adj_arr, 0644, -1, 0);
__MODULE_PARM_TYPE(adj, "array of short");
MODULE_PARM_DESC(adj, "oom_score_adj thresholds, at most 6");

module_param_array_named(minfree, lowmem_minfree, int, &lowmem_minfree_size,
			 0644);
MODULE_PARM_DESC(minfree, "free/file page thresholds, at most 6");

module_param_named(debug_level, lowmem_debug_level, uint, 0644);
MODULE_PARM_DESC(debug_level, "log verbosity (1: kills only)");

/* ---- the killer ---- */

static DEFINE_MUTEX(lowmem_scan_mutex);
/* Last victim (reference held) and until when we wait for it to exit. */
static struct task_struct *lowmem_victim;
static unsigned long lowmem_deathpending_timeout;

/*
 * totalreserve_pages is not exported to modules.  The kernel computes it
 * (calculate_totalreserve_pages) as the sum of the per-node values it stores
 * in pgdat->totalreserve_pages at the same time, so add those up.
 */
static unsigned long lowmem_totalreserve_pages(void)
{
	unsigned long sum = 0;
	int nid;

	for_each_online_node(nid)
		sum += READ_ONCE(NODE_DATA(nid)->totalreserve_pages);
	return sum;
}

/* find_lock_task_mm() is not exported: the same walk, written here. */
static struct task_struct *lowmem_lock_task_mm(struct task_struct *p)
{
	struct task_struct *t;

	for_each_thread(p, t) {
		task_lock(t);
		if (likely(t->mm))
			return t;
		task_unlock(t);
	}
	return NULL;
}

/*
 * Called under rcu_read_lock(), with a reference held on the victim.  Its
 * memory is freed in do_exit() after its mm is detached (mmput() at the end
 * of exit_mm()), so a detached mm does not mean the memory is back yet: the
 * victim is dying until exit_notify() sets its exit_state.  Choosing again
 * as soon as the mm is gone killed every other adj-0 process (sshd, cron,
 * the shell) within milliseconds while the first victim's memory was still
 * being freed.
 */
static bool lowmem_victim_still_dying(struct task_struct *victim)
{
	if (READ_ONCE(victim->exit_state))
		return false;
	return time_before_eq(jiffies, lowmem_deathpending_timeout);
}

static unsigned long lowmem_count(struct shrinker *s,
				  struct shrink_control *sc)
{
	return global_node_page_state(NR_ACTIVE_ANON) +
	       global_node_page_state(NR_ACTIVE_FILE) +
	       global_node_page_state(NR_INACTIVE_ANON) +
	       global_node_page_state(NR_INACTIVE_FILE);
}

static unsigned long lowmem_scan(struct shrinker *s, struct shrink_control *sc)
{
	struct task_struct *tsk;
	struct task_struct *selected = NULL;
	unsigned long rem = 0;
	int tasksize;
	unsigned int i, array_size;
	short min_score_adj = OOM_SCORE_ADJ_MAX + 1;
	int minfree = 0;
	int selected_tasksize = 0;
	short selected_oom_score_adj;
	int other_free = global_zone_page_state(NR_FREE_PAGES) -
			 lowmem_totalreserve_pages();
	int other_file = global_node_page_state(NR_FILE_PAGES) -
			 global_node_page_state(NR_SHMEM) -
			 global_node_page_state(NR_SWAPCACHE);

	array_size = min3((unsigned int)LOWMEM_ARRAY_MAX,
			  READ_ONCE(lowmem_adj_size),
			  READ_ONCE(lowmem_minfree_size));
	for (i = 0; i < array_size; i++) {
		minfree = lowmem_minfree[i];
		if (other_free < minfree && other_file < minfree) {
			min_score_adj = lowmem_adj[i];
			break;
		}
	}

	lowmem_print(LOWMEM_LVL_SCAN, "lowmem_scan %lu, %x, ofree %d %d, ma %hd\n",
		     sc->nr_to_scan, (__force unsigned int)sc->gfp_mask,
		     other_free, other_file, min_score_adj);

	if (min_score_adj == OOM_SCORE_ADJ_MAX + 1) {
		lowmem_print(LOWMEM_LVL_NOTHING, "lowmem_scan %lu, %x, return 0\n",
			     sc->nr_to_scan, (__force unsigned int)sc->gfp_mask);
		return 0;
	}

	/* One chooser at a time; a concurrent reclaimer just moves on. */
	if (!mutex_trylock(&lowmem_scan_mutex))
		return 0;

	rcu_read_lock();

	/* Death pending: wait (up to the timeout) for our last victim. */
	if (lowmem_victim) {
		if (lowmem_victim_still_dying(lowmem_victim)) {
			rcu_read_unlock();
			mutex_unlock(&lowmem_scan_mutex);
			return 0;
		}
		put_task_struct(lowmem_victim);
		lowmem_victim = NULL;
	}

	selected_oom_score_adj = min_score_adj;
	for_each_process(tsk) {
		struct task_struct *p;
		short oom_score_adj;

		if (tsk->flags & PF_KTHREAD)
			continue;
		/* Tasks that ignore SIGKILL would only make us spin. */
		if (is_global_init(tsk) ||
		    (tsk->signal->flags & SIGNAL_UNKILLABLE))
			continue;

		p = lowmem_lock_task_mm(tsk);
		if (!p)
			continue;

		/* A victim of the kernel OOM killer stands for TIF_MEMDIE. */
		if (tsk_is_oom_victim(p) &&
		    time_before_eq(jiffies, lowmem_deathpending_timeout)) {
			task_unlock(p);
			rcu_read_unlock();
			mutex_unlock(&lowmem_scan_mutex);
			return 0;
		}

		oom_score_adj = p->signal->oom_score_adj;
		if (oom_score_adj < min_score_adj) {
			task_unlock(p);
			continue;
		}
		tasksize = get_mm_rss(p->mm);
		task_unlock(p);
		if (tasksize <= 0)
			continue;
		if (selected) {
			if (oom_score_adj < selected_oom_score_adj)
				continue;
			if (oom_score_adj == selected_oom_score_adj &&
			    tasksize <= selected_tasksize)
				continue;
		}
		selected = p;
		selected_tasksize = tasksize;
		selected_oom_score_adj = oom_score_adj;
		if (lowmem_record_style == LOWMEM_RECORD_49)
			lowmem_print(LOWMEM_LVL_SELECT,
				     "select '%s' (%d), adj %hd, size %d, to kill\n",
				     p->comm, p->pid, oom_score_adj, tasksize);
		else
			lowmem_print(LOWMEM_LVL_SELECT,
				     "select %d (%s), adj %hd, size %d, to kill\n",
				     p->pid, p->comm, oom_score_adj, tasksize);
	}

	if (selected) {
		if (lowmem_record_style == LOWMEM_RECORD_49) {
			long kb = PAGE_SIZE / 1024;

			task_lock(selected);
			send_sig(SIGKILL, selected, 0);
			task_unlock(selected);
			lowmem_print(LOWMEM_LVL_KILL,
				     "Killing '%s' (%d), adj %hd,\n"
				     "   to free %ldkB on behalf of '%s' (%d) because\n"
				     "   cache %ldkB is below limit %ldkB for oom_score_adj %hd\n"
				     "   Free memory is %ldkB above reserved\n",
				     selected->comm, selected->pid,
				     selected_oom_score_adj,
				     selected_tasksize * kb,
				     current->comm, current->pid,
				     other_file * kb, minfree * kb,
				     min_score_adj, other_free * kb);
		} else {
			lowmem_print(LOWMEM_LVL_KILL,
				     "send sigkill to %d (%s), adj %hd, size %d\n",
				     selected->pid, selected->comm,
				     selected_oom_score_adj, selected_tasksize);
			send_sig(SIGKILL, selected, 0);
		}
		get_task_struct(selected);
		lowmem_victim = selected;
		lowmem_deathpending_timeout = jiffies + msecs_to_jiffies(deathpending_ms);
		rem += selected_tasksize;
	}

	lowmem_print(LOWMEM_LVL_RETURN, "lowmem_scan %lu, %x, return %lu\n",
		     sc->nr_to_scan, (__force unsigned int)sc->gfp_mask, rem);
	rcu_read_unlock();
	mutex_unlock(&lowmem_scan_mutex);
	return rem;
}

static struct shrinker lowmem_shrinker = {
	.count_objects = lowmem_count,
	.scan_objects = lowmem_scan,
	.seeks = DEFAULT_SEEKS * 16,
};

module_param_named(cost, lowmem_shrinker.seeks, int, 0644);
MODULE_PARM_DESC(cost, "shrinker seeks");

static int __init lowmem_init(void)
{
	int ret;

	if (!strcmp(record_format, "3.10") || !strcmp(record_format, "4.4")) {
		lowmem_record_style = LOWMEM_RECORD_310;
	} else if (!strcmp(record_format, "4.9")) {
		lowmem_record_style = LOWMEM_RECORD_49;
	} else {
		pr_err("record_format=%s: expected 3.10, 4.4 or 4.9\n",
		       record_format);
		return -EINVAL;
	}

	/* insmod ... adj=... android_autodetect=1: same result either order. */
	if (android_autodetect && lowmem_adj_set_before_switch)
		lowmem_autodetect_adj();

	ret = register_shrinker(&lowmem_shrinker, "lowmemorykiller");
	if (ret)
		return ret;
	return 0;
}

static void __exit lowmem_exit(void)
{
	unregister_shrinker(&lowmem_shrinker);
	mutex_lock(&lowmem_scan_mutex);
	if (lowmem_victim) {
		put_task_struct(lowmem_victim);
		lowmem_victim = NULL;
	}
	mutex_unlock(&lowmem_scan_mutex);
}

module_init(lowmem_init);
module_exit(lowmem_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test reproduction of Android's staging lowmemorykiller (lowmem.hardening)");
