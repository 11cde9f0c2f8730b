/*
 * scenario.c - lab 02's scenarios run for real and predicted (generate.c
 * makes them): after each step, the page cache's share of the file, what
 * an access through a mapping did, and what read() through a second
 * descriptor sees.  The drops need a file system that drops clean pages,
 * which tmpfs does not: there the cache level is skipped.
 */
#include "file_lab.h"
#include "filemap.h"

#include "cli.h"
#include "fault.h"
#include "procfs.h"
#include "scenario.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const struct scn_fact facts[FACTS] = {
    {"cached_pages", "pages of the file (as long as it is now) in the page cache (mincore)"},
    {"access", "what the load or store did: the byte loaded, ok, or SIGBUS"},
    {"read_sees", "what pread() through another descriptor reads there: the byte, or EOF"},
};
static const char *const levels[] = {"shared", "private", "truncate", "cache", NULL};

static const char *unavailable(unsigned level)
{
    static int drops = -1;
    static char why[256];

    if (level != LEVEL_CACHE)
        return NULL;
    if (drops < 0)
        drops = drops_clean_pages(scratch_dir());
    if (drops)
        return NULL;
    snprintf(why, sizeof why,
             "the file system of %s keeps every page cached after POSIX_FADV_DONTNEED (tmpfs?): "
             "the cache level cannot run here",
             scratch_dir());
    return why;
}

/* ------------------------------------------------------------ running */

static void format_byte(char *buf, size_t cap, int byte)
{
    if (byte == FILE_SIGBUS)
        snprintf(buf, cap, "SIGBUS");
    else if (byte == FILE_EOF)
        snprintf(buf, cap, "EOF");
    else if (byte > ' ' && byte < 127)
        snprintf(buf, cap, "'%c'", byte);
    else
        snprintf(buf, cap, "%d", byte);
}

static void format_access(char *buf, size_t cap, const struct file_step *s, int access)
{
    if (s->op == FILE_STORE && access == 0)
        snprintf(buf, cap, "ok");
    else
        format_byte(buf, cap, access);
}

/* The file and its mappings while a scenario runs. */
struct file_run {
    int fd, reader;
    char *map[2];
    size_t map_bytes;
};

static void create_file(struct file_run *run, unsigned pages)
{
    char page[4096];

    if (page_size() != sizeof page)
        die("lab 02 needs 4 KiB pages (this machine's are %zu bytes)", page_size());
    run->fd = scratch_file(scratch_dir());
    for (unsigned i = 0; i < pages; i++) {
        memset(page, 'a' + (int)i, sizeof page);
        write_at(run->fd, page, sizeof page, (off_t)i * (off_t)sizeof page);
    }
    run->reader = reopen_read_only(run->fd);
    run->map_bytes = pages * page_size();
}

static int run_access(struct file_run *run, const struct file_step *s)
{
    char *at = run->map[s->map] + s->page * page_size();
    struct lab_access a = s->op == FILE_STORE ? lab_store(at, (uint8_t)s->letter) : lab_load(at);

    if (a.fault == LAB_SIGBUS)
        return FILE_SIGBUS;
    if (a.fault != LAB_NO_FAULT)
        die("an access through %s faulted with SIGSEGV", file_map_names[s->map]);
    return s->op == FILE_STORE ? 0 : a.value;
}

static void run_step(struct file_run *run, const struct file_step *s, int *access)
{
    switch (s->op) {
    case FILE_CREATE: create_file(run, s->pages); break;
    case FILE_MAP:
        run->map[s->map] = mmap(NULL, run->map_bytes, PROT_READ | PROT_WRITE,
                                s->map == MAP_S ? MAP_SHARED : MAP_PRIVATE, run->fd, 0);
        if (run->map[s->map] == MAP_FAILED)
            die_errno("mmap");
        break;
    case FILE_MUNMAP:
        if (munmap(run->map[s->map], run->map_bytes) != 0)
            die_errno("munmap");
        run->map[s->map] = NULL;
        break;
    case FILE_STORE:
    case FILE_LOAD: *access = run_access(run, s); break;
    case FILE_PWRITE: write_at(run->fd, &s->letter, 1, (off_t)(s->page * page_size())); break;
    case FILE_TRUNCATE:
        if (ftruncate(run->fd, (off_t)s->size) != 0)
            die_errno("ftruncate");
        break;
    case FILE_DROP: drop_cached(run->fd); break;
    }
}

/* What pread() of one byte at page p's start returns through the second
 * descriptor. */
static int read_sees(const struct file_run *run, unsigned p)
{
    unsigned char byte;
    ssize_t n = pread(run->reader, &byte, 1, (off_t)(p * page_size()));

    if (n < 0)
        die_errno("pread");
    return n == 0 ? FILE_EOF : byte;
}

static void measure(const struct scn_script *script, struct scn_answers *answers)
{
    struct file_run run = {.fd = -1};
    char text[SCN_VALUE_MAX];

    for (unsigned i = 0; i < scenario_now.count; i++) {
        const struct file_step *s = &scenario_now.steps[i];
        int access = 0;
        scn_where("%s, step %u (%s), running it for real", script->title, i + 1, script->step[i]);
        run_step(&run, s, &access);
        scn_answer_long(script, answers, i, FACT_CACHED, cached_pages_of(run.fd));
        format_access(text, sizeof text, s, access);
        scn_answer(script, answers, i, FACT_ACCESS, "%s", text);
        if (s->op == FILE_STORE || s->op == FILE_LOAD || s->op == FILE_PWRITE) {
            format_byte(text, sizeof text, read_sees(&run, s->page));
            scn_answer(script, answers, i, FACT_READ, "%s", text);
        }
    }
    for (int m = 0; m < 2; m++)
        if (run.map[m] != NULL && munmap(run.map[m], run.map_bytes) != 0)
            die_errno("munmap");
    close(run.reader);
    close(run.fd);
}

/* ---------------------------------------------------------- predicting */

static bool predict(const struct scn_script *script, struct scn_answers *answers)
{
    struct file_facts predicted[FILE_MAX_STEPS];
    char text[SCN_VALUE_MAX];

    for (unsigned i = 0; i < FILE_MAX_STEPS; i++)
        predicted[i] = (struct file_facts){-1, -3, -3};
    if (predict_file(scenario_now.steps, scenario_now.count, predicted) != 0)
        return false;
    for (unsigned i = 0; i < scenario_now.count; i++) {
        scn_answer_long(script, answers, i, FACT_CACHED, predicted[i].cached_pages);
        format_access(text, sizeof text, &scenario_now.steps[i], predicted[i].access);
        scn_answer(script, answers, i, FACT_ACCESS, "%s", text);
        format_byte(text, sizeof text, predicted[i].read_sees);
        scn_answer(script, answers, i, FACT_READ, "%s", text);
    }
    return true;
}

const struct scn_lab lab_scenarios = {
    .predictor = "predict_file",
    .facts = facts,
    .fact_count = FACTS,
    .levels = levels,
    .generate = generate_scenario,
    .unavailable = unavailable,
    .measure = measure,
    .predict = predict,
};
