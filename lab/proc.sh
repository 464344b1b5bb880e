# shellcheck shell=bash
# Processes by PID (sourced by wgnet-lab, tests/netns/lib.sh and bench/lib.sh).
#
#   pid_alive PID         the process runs
#   pid_stop PID [SIG]    SIG (TERM) and up to 5 s for it to end, then KILL
#
# A process that has exited but not been reaped is a zombie: `kill -0`
# still succeeds on it. The daemons the lab starts (setsid, its shell gone)
# are reaped by PID 1, and some PID 1s (a sandbox's init) reap only about
# once a second: waiting on `kill -0` made every agent stop take a second
# or two, and `wgnet-lab down` of 100 guests over three minutes. So a
# zombie counts as gone, read from /proc without starting a process.

pid_alive() {
	local st
	[[ ${1:-} =~ ^[0-9]+$ ]] || return 1
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) } # "PID (COMM) STATE ...": COMM may hold spaces and ')'
	[[ $st != [ZX]* ]]
}

pid_stop() {
	local pid=$1 sig=${2:-TERM} i
	pid_alive "$pid" || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}
