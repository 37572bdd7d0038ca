/*
 * Logging: one event per line on stderr, stamped with time, level and
 * thread-supplied context.  The level test happens before the arguments
 * are evaluated (as redis' serverLog), so debug logging on the hot path
 * costs one comparison when it is off.  Thread-safe: each line is one
 * write(2).
 */
#ifndef INVENTORY_LOG_H
#define INVENTORY_LOG_H

enum log_level {
	LOG_LEVEL_ERR   = 0,
	LOG_LEVEL_WARN  = 1,
	LOG_LEVEL_INFO  = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Current threshold; set once at start-up by main. */
extern enum log_level log_threshold;

/* Parse "error", "warn", "info" or "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                               \
	do {                                           \
		if ((lvl) <= log_threshold)            \
			log_write((lvl), __VA_ARGS__); \
	} while (0)
#define log_err(...)   log_at(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
