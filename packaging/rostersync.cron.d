# rostersync.cron.d - example cron job: sync tenant "acme" every 15 minutes.
#
# Use it on machines without systemd; where systemd runs, enable
# rostersync@acme.timer instead, and never both for one tenant.  Install a
# copy as /etc/cron.d/rostersync (cron skips file names that contain a dot)
# and change "acme" to the tenant's name.
#
# Mail: cron mails anything a job writes to stdout or stderr to MAILTO.
# MAILTO="" sends no mail at all, and without MAILTO the mail goes to the
# user the job runs as.  rostersync logs on stderr, so with "log.level: warn"
# in the tenant's config a successful run writes nothing and sends no mail,
# while a failed run, a run stopped by the deletion threshold (with its plan
# id on stdout) and every warning reach MAILTO.
#
# Overlap: "flock -n" starts no second run while the previous one still
# holds /run/lock/rostersync-acme.lock; the skipped run writes nothing and
# exits 75 (-E 75).  rostersync also locks the roster itself, but it would
# wait 10 seconds and then log an error, which cron would mail.
#
# Secrets: cron has no systemd credentials, so the config's
# okta.api_token_file (or graph.client_secret_file) must be readable by the
# user below: owned by rostersync, mode 0600.  The "[ -x ]" test keeps the
# job quiet after the package was removed but this file was kept.

SHELL=/bin/sh
PATH=/usr/bin:/bin
MAILTO=root

*/15 * * * *	rostersync	[ -x /usr/bin/rostersync ] && flock -n -E 75 /run/lock/rostersync-acme.lock /usr/bin/rostersync sync -c /etc/rostersync/acme.yaml
