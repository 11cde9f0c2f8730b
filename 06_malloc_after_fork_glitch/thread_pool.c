/*
 * thread_pool.c - fork() while worker threads are in the middle of jobs.
 *
 * A pool of WORKERS threads takes jobs from a list.  Each worker holds its
 * job's lock while it works, and parks halfway through its first job until
 * told to go on: so at the fork every worker is known to be mid-job (a
 * handshake, not luck).  The child looks at what it inherited: how many
 * threads it has (/proc/self/task), the jobs' states and progress, and which
 * locks are held (pthread_mutex_trylock).  Then the parent lets its workers
 * finish.
 *
 * The pool as the child sees it:
 *
 *   jobs[0..WORKERS)      running, frozen at 50%, each lock held by a thread
 *                         that does not exist in the child
 *   jobs[WORKERS..JOBS)   queued; no worker will ever take them
 *   pool lock             free (no worker held it at the instant of fork)
 */
#include "fork_glitch.h"

#include "cli.h"
#include "memory.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

enum { WORKERS = 3, JOBS = 6, JOB_STEPS = 1000, POOL_TRIALS = 5 };

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct job {
    pthread_mutex_t lock; /* held by the worker running the job */
    enum job_state state;
    unsigned steps_done; /* of JOB_STEPS */
    uint64_t sum;        /* the job's work: a running sum */
};

/* The pool.  Invariant: jobs before next_job are running or finished,
 * jobs from next_job on are queued. */
struct pool {
    pthread_mutex_t lock; /* guards next_job */
    unsigned next_job;
    struct job jobs[JOBS];
    pthread_t workers[WORKERS];
    int at_half[2]; /* a worker writes a byte here halfway through its first job */
    int resume[2];  /* ... and waits for a byte here before it goes on */
};

/* What the child saw, in memory shared with the parent. */
struct pool_seen {
    unsigned threads; /* in /proc/self/task */
    unsigned running, queued, finished;
    unsigned progress_pct;   /* of the running jobs (all equal) */
    unsigned job_locks_held; /* trylock said EBUSY */
    bool pool_lock_held;
};

/* What the child gets: the pool to look at, where to write what it saw. */
struct inspection {
    struct pool *pool;
    struct pool_seen *seen;
};

/* The next queued job, or NULL when there is none. */
static struct job *take_job(struct pool *p)
{
    struct job *job = NULL;

    pthread_mutex_lock(&p->lock);
    if (p->next_job < JOBS) {
        job = &p->jobs[p->next_job++];
        job->state = JOB_RUNNING;
    }
    pthread_mutex_unlock(&p->lock);
    return job;
}

static void work_steps(struct job *job, unsigned until)
{
    for (; job->steps_done < until; job->steps_done++)
        job->sum += (uint64_t)job->steps_done * job->steps_done;
}

static void *worker_main(void *arg)
{
    struct pool *p = arg;
    bool parked = false;
    struct job *job;
    char byte;

    while ((job = take_job(p)) != NULL) {
        pthread_mutex_lock(&job->lock);
        work_steps(job, JOB_STEPS / 2);
        if (!parked) { /* halfway through the first job, lock held: say so, wait */
            send_byte(p->at_half[1], 'h');
            receive_byte(p->resume[0], &byte);
            parked = true;
        }
        work_steps(job, JOB_STEPS);
        job->state = JOB_FINISHED;
        pthread_mutex_unlock(&job->lock);
    }
    return NULL;
}

static void pool_start(struct pool *p)
{
    *p = (struct pool){.next_job = 0};
    pthread_mutex_init(&p->lock, NULL);
    for (int i = 0; i < JOBS; i++)
        pthread_mutex_init(&p->jobs[i].lock, NULL);
    if (pipe2(p->at_half, O_CLOEXEC) != 0 || pipe2(p->resume, O_CLOEXEC) != 0)
        die_errno("pipe2");
    for (int i = 0; i < WORKERS; i++) {
        p->workers[i] = start_thread(worker_main, p);
    }
    char byte;
    for (int i = 0; i < WORKERS; i++) /* from here on, every worker is mid-job */
        if (!receive_byte(p->at_half[0], &byte))
            die("a worker ended before reaching the middle of its job");
}

/* Let the workers go on, wait for them, and count the finished jobs. */
static unsigned pool_finish(struct pool *p)
{
    unsigned finished = 0;

    for (int i = 0; i < WORKERS; i++)
        send_byte(p->resume[1], 'r');
    for (int i = 0; i < WORKERS; i++) {
        join_thread(p->workers[i]);
    }
    for (int i = 0; i < JOBS; i++) {
        finished += p->jobs[i].state == JOB_FINISHED;
        pthread_mutex_destroy(&p->jobs[i].lock);
    }
    pthread_mutex_destroy(&p->lock);
    close(p->at_half[0]);
    close(p->at_half[1]);
    close(p->resume[0]);
    close(p->resume[1]);
    return finished;
}

/* The child: look, touch nothing, leave. */
static int child_inspects(void *arg)
{
    struct pool *p = ((struct inspection *)arg)->pool;
    struct pool_seen *seen = ((struct inspection *)arg)->seen;

    seen->threads = count_threads();
    for (int i = 0; i < JOBS; i++) {
        struct job *job = &p->jobs[i];
        seen->queued += job->state == JOB_QUEUED;
        seen->finished += job->state == JOB_FINISHED;
        if (job->state != JOB_RUNNING)
            continue;
        seen->running++;
        seen->progress_pct = job->steps_done * 100 / JOB_STEPS;
        seen->job_locks_held += pthread_mutex_trylock(&job->lock) == EBUSY;
    }
    seen->pool_lock_held = pthread_mutex_trylock(&p->lock) == EBUSY;
    return 0;
}

struct fork_outcome show_threadpool(const struct run_config *cfg)
{
    unsigned trials = trials_or(cfg, POOL_TRIALS);
    struct fork_outcome o = {0};
    struct pool pool;
    struct pool_seen *seen = map_anonymous(sizeof *seen, MAP_SHARED);
    unsigned threads_in_parent = 0, threads_in_child_max = 0, parent_finished = 0;

    heading("threadpool: fork while %d workers are in the middle of jobs", WORKERS);
    for (unsigned i = 0; i < trials; i++) {
        pool_start(&pool);
        threads_in_parent = count_threads();
        *seen = (struct pool_seen){0};
        struct inspection look = {&pool, seen};
        struct child_result r = run_watched(child_inspects, &look, cfg->timeout_ms);
        count_outcome(&o, &r);
        if (seen->threads > threads_in_child_max)
            threads_in_child_max = seen->threads;
        parent_finished = pool_finish(&pool);
    }
    printf("Parent at the fork: %u threads; %d workers each halfway through a job, holding\n"
           "the job's lock; %d jobs queued.\n",
           threads_in_parent, WORKERS, JOBS - WORKERS);
    bool alone = threads_in_child_max == 1;
    printf("Child: %u thread%s.\n"
           "  jobs running   %u, at %u%%%s\n"
           "  jobs queued    %u%s\n"
           "  job locks      %u held%s\n"
           "  pool lock      %s\n",
           threads_in_child_max, alone ? " (the one that called fork)" : "s", seen->running,
           seen->progress_pct, alone && seen->running ? ": frozen, no thread is running them" : "",
           seen->queued, alone && seen->queued ? ": no worker will ever take them" : "",
           seen->job_locks_held,
           seen->job_locks_held ? ", by threads that do not exist here (trylock: EBUSY)" : "",
           seen->pool_lock_held ? "held too" : "free: no worker held it at the instant of fork");
    printf("Parent afterwards: %u of %d jobs finished%s.\n", parent_finished, JOBS,
           parent_finished == JOBS ? ", as if nothing happened" : "");
    fact_uint("threads_in_parent", threads_in_parent);
    fact_uint("threads_in_child", threads_in_child_max);
    fact_uint("jobs_running", seen->running);
    fact_uint("jobs_queued", seen->queued);
    fact_uint("job_progress_pct", seen->progress_pct);
    fact_uint("job_locks_held", seen->job_locks_held);
    fact_int("pool_lock_held", seen->pool_lock_held);
    fact_uint("parent_jobs_finished", parent_finished);
    facts_end();
    unmap(seen, sizeof *seen);
    print_outcome("threadpool", &o);
    return o;
}
