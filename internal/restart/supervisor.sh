#!/bin/sh
# kindling-supervisor: keeps an app restartable in place for `kindling sync --restart`.
# kindling delivers this file through the pod spec (no image change); it needs only a POSIX sh
# (dash, BusyBox ash) and reads /proc. Modes:
#
#   kindling-supervisor run [--hold S] [--grace S] [--state-dir DIR] -- ARGV...
#       Run ARGV as a child in its own process group and restart it on request.
#   kindling-supervisor restart [--wait-port PORT]... [--timeout S] [--state-dir DIR]
#       Ask the supervisor for a restart and wait until the new app runs (and listens on PORT).
#       Prints one line: "restarted pid=P generation=G ready_ms=MS", "crashed status=N" or "timeout ...".
#   kindling-supervisor status [--state-dir DIR]
#
# The state directory holds "pid" (the supervisor's PID), "state" ("GENERATION STATE [DETAIL]", where
# STATE is held, running PID, restarting or crashed STATUS) and "request" (see request_pending).

me=kindling-supervisor
state_dir=/tmp/.kindling-supervisor

say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
	say "$*"
	exit 2
}

# need_int NAME VALUE: dies unless VALUE is a whole number of seconds or a port.
need_int() {
	case $2 in
	'' | *[!0-9]*) die "$1 needs a whole number, got '$2'" ;;
	esac
}

# now_cs sets $now to centiseconds since boot, from /proc/uptime: a clock that needs no external command.
now_cs() {
	read -r _up _idle </proc/uptime
	now=$((${_up%.*} * 100 + 1${_up#*.} - 100))
}

# Polls sleep for a tick; POSIX sleep only promises whole seconds.
if sleep 0.001 2>/dev/null; then tick=0.05; else tick=1; fi

set_state() { printf '%s\n' "$*" >"$state_dir/state"; }

# read_state sets s_gen, s_state and s_detail; it fails while the file is missing or being rewritten.
read_state() {
	s_gen= s_state= s_detail=
	{ read -r s_gen s_state s_detail <"$state_dir/state"; } 2>/dev/null
	case $s_gen in '' | *[!0-9]*) return 1 ;; esac
}

# ---- supervisor --------------------------------------------------------------------------------------

# signal_group SIG PID: signals the app's process group, or the app alone while it has not yet become
# a group leader (just forked) or when setsid is missing.
signal_group() { kill -"$1" -"$2" 2>/dev/null || kill -"$1" "$2" 2>/dev/null; }

# group_alive: succeeds while the app or any process of its group lives. The app is reaped as soon as it
# exits. Other members that exited can stay zombies until their own parent reaps them, and kill -0 counts
# zombies, so a group that still answers it is checked process by process (the slow path: sh reads
# /proc a byte at a time).
group_alive() {
	if { read -r _line <"/proc/$child/stat"; } 2>/dev/null; then
		case ${_line##*") "} in Z* | X*) wait "$child" 2>/dev/null ;; *) return 0 ;; esac
	fi
	kill -0 -"$child" 2>/dev/null || return 1
	for _stat in /proc/[0-9]*/stat; do
		{ read -r _line <"$_stat"; } 2>/dev/null || continue
		# After "PID (COMM) " come state, ppid and pgrp; COMM may hold spaces and parentheses.
		set -- ${_line##*") "}
		case $1 in Z | X) continue ;; esac
		[ "$3" != "$child" ] || return 0
	done
	return 1
}

# await_group_exit SECONDS: succeeds once the app's group is gone, fails when SECONDS pass first.
await_group_exit() {
	now_cs
	_deadline=$((now + $1 * 100))
	while group_alive; do
		now_cs
		[ "$now" -lt "$_deadline" ] || return 1
		sleep "$tick"
	done
}

start_app() {
	[ -z "$stopping" ] || return 0
	gen=$((gen + 1))
	# exec: argv[0] must name a program, never one of this script's functions.
	exec $launcher "$@" 0<&3 3<&- &
	child=$!
	set_state "$gen running $child"
	# A stop signal that came between the fork and the line above found no child to forward to.
	[ -z "$stopping" ] || signal_group "$stopping" "$child"
}

# stop_app ends the whole group, so that no old process keeps the port: TERM, then KILL after the grace.
stop_app() {
	[ -n "$child" ] || return 0
	signal_group TERM "$child"
	if ! await_group_exit "$grace"; then
		signal_group KILL "$child"
		await_group_exit 10 || say "process group $child survived SIGKILL for 10s; starting the app anyway"
	fi
	wait "$child" 2>/dev/null
	child=
}

# child_gone STATUS: after `wait "$child"` returned STATUS (the app's exit, or a trap that cut the wait
# short), succeeds when the app has exited and sets last_status.
child_gone() {
	! kill -0 "$child" 2>/dev/null || return 1
	wait "$child"
	_st=$?
	[ "$_st" != 127 ] || _st=$1 # 127: the first wait already collected the status
	last_status=$_st child=
}

# request_pending: the client writes the generation it saw into "request" before signalling, and sends
# the signal again while nothing happens (a signal landing just before `wait` blocks is only seen on
# the next one). Restart only when that generation is still the current one, so a repeated signal
# never causes a second restart.
request_pending() {
	_want=
	{ read -r _want <"$state_dir/request"; } 2>/dev/null
	case $_want in '' | *[!0-9]*) _want=$gen ;; esac
	[ "$_want" -ge "$gen" ]
}

# idle SECONDS: sleeps until a signal arrives or SECONDS pass. The trap handlers kill the sleeper, and a
# flag set before the sleeper existed is checked here, so no signal is missed.
idle() {
	sleep "$1" 3<&- &
	sleeper=$!
	[ -n "$requested$stopping" ] || wait "$sleeper"
	kill "$sleeper" 2>/dev/null
	wait "$sleeper" 2>/dev/null
	sleeper=
}

wake() { [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; }

# stop SIG: a stop signal for the supervisor is forwarded at once, wherever the main loop is.
stop() {
	stopping=$1
	[ "$1" = TERM ] || [ -n "$resets_signals" ] || stopping=TERM
	[ -z "$child" ] || signal_group "$stopping" "$child"
	wake
}

supervise() {
	hold=0 grace=5
	while [ $# -gt 0 ]; do
		case $1 in
		--hold | --grace | --state-dir)
			[ $# -ge 2 ] || die "$1 needs a value"
			case $1 in
			--hold) need_int "$1" "$2" && hold=$2 ;;
			--grace) need_int "$1" "$2" && grace=$2 ;;
			--state-dir) state_dir=$2 ;;
			esac
			shift 2
			;;
		--) shift && break ;;
		*) die "run: unknown option '$1'; usage: $me run [--hold S] [--grace S] [--state-dir DIR] -- ARGV..." ;;
		esac
	done
	[ $# -gt 0 ] || die "run: no command after --"

	mkdir -p "$state_dir" 2>/dev/null && printf '%s\n' $$ >"$state_dir/pid" ||
		die "cannot write to state directory $state_dir; pass --state-dir with a writable directory"
	: >"$state_dir/request"

	# No job control without a tty, so sh starts background jobs in its own process group and with
	# SIGINT and SIGQUIT ignored. setsid gives the app its own group; env --default-signal (GNU
	# coreutils) undoes the ignoring where it exists. Without it, INT and QUIT are forwarded as TERM.
	launcher= resets_signals=
	if command -v setsid >/dev/null 2>&1; then
		launcher=setsid
	else
		say "setsid not found: a restart stops only the app's own process, not processes it started"
	fi
	if env --default-signal=INT,QUIT true 2>/dev/null; then
		launcher="$launcher env --default-signal=INT,QUIT --"
		resets_signals=1
	fi
	# A background job's stdin is /dev/null: keep the container's for the app.
	if [ -e "/proc/$$/fd/0" ]; then exec 3<&0; else exec 3</dev/null; fi

	gen=0 child= sleeper= requested= stopping= last_status=0
	trap 'requested=1; wake' USR1
	trap 'stop TERM' TERM
	trap 'stop INT' INT
	trap 'stop QUIT' QUIT

	if [ "$hold" -gt 0 ]; then
		set_state "0 held"
		idle "$hold"
		[ -n "$requested$stopping" ] || say "no sync arrived within ${hold}s; starting the app anyway"
		requested=
	fi
	start_app "$@"

	while :; do
		if [ -n "$stopping" ]; then
			while [ -n "$child" ]; do
				wait "$child"
				child_gone $?
			done
			exit "$last_status"
		fi
		if [ -n "$requested" ]; then
			requested=
			if request_pending; then
				set_state "$gen restarting"
				stop_app
				start_app "$@"
			fi
			continue
		fi
		if [ -z "$child" ]; then
			idle 3600
			continue
		fi
		wait "$child"
		if child_gone $? && [ -z "$stopping" ]; then
			say "app exited with status $last_status; waiting for the next sync"
			set_state "$gen crashed $last_status"
		fi
	done
}

# ---- client ------------------------------------------------------------------------------------------

# port_listening HEXPORT: succeeds when a TCP socket listens on the port (state 0A in /proc/net/tcp*).
port_listening() {
	for _table in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$_table" ] || continue
		while read -r _sl _local _remote _st _rest; do
			[ "$_st" = 0A ] && [ "${_local##*:}" = "$1" ] && return 0
		done <"$_table"
	done
	return 1
}

# supervisor_pid sets spid from the pid file, or exits when no supervisor runs.
supervisor_pid() {
	spid=
	{ read -r spid <"$state_dir/pid"; } 2>/dev/null
	case $spid in '' | *[!0-9]*) die "no supervisor: $state_dir/pid is missing; is the container running $me run?" ;; esac
	kill -0 "$spid" 2>/dev/null || die "no supervisor: process $spid from $state_dir/pid is not running"
	read_state || die "no supervisor state in $state_dir/state"
}

# client_check fails the restart when the app it waits for has crashed, and when time is up.
client_check() {
	if read_state && [ "$s_gen" -gt "$from_gen" ] && [ "$s_state" = crashed ]; then
		echo "crashed status=$s_detail"
		exit 1
	fi
	now_cs
	if [ "$now" -ge "$deadline" ]; then
		echo "timeout $1 state=\"$s_gen $s_state $s_detail\""
		exit 3
	fi
}

request_restart() {
	timeout=30 ports=
	while [ $# -gt 0 ]; do
		case $1 in
		--wait-port | --timeout | --state-dir)
			[ $# -ge 2 ] || die "$1 needs a value"
			case $1 in
			--wait-port) need_int "$1" "$2" && ports="$ports $2" ;;
			--timeout) need_int "$1" "$2" && timeout=$2 ;;
			--state-dir) state_dir=$2 ;;
			esac
			shift 2
			;;
		*) die "restart: unknown option '$1'; usage: $me restart [--wait-port PORT]... [--timeout S] [--state-dir DIR]" ;;
		esac
	done
	supervisor_pid
	from_gen=$s_gen
	printf '%s\n' "$from_gen" >"$state_dir/request" || die "cannot write $state_dir/request"
	now_cs
	started=$now deadline=$((now + timeout * 100)) nudge=$now

	until read_state && [ "$s_gen" -gt "$from_gen" ] && [ "$s_state" = running ]; do
		client_check "waiting=restart"
		if [ "$s_gen" = "$from_gen" ] && [ "$now" -ge "$nudge" ]; then
			kill -USR1 "$spid" 2>/dev/null || die "no supervisor: process $spid is gone"
			nudge=$((now + 100))
		fi
		sleep "$tick"
	done
	app_gen=$s_gen app_pid=$s_detail
	for port in $ports; do
		hex=$(printf '%04X' "$port")
		until port_listening "$hex"; do
			client_check "waiting=port:$port"
			sleep "$tick"
		done
	done
	# An app that failed to bind may have exited while the port looked served.
	client_check "waiting=port"
	now_cs
	echo "restarted pid=$app_pid generation=$app_gen ready_ms=$(((now - started) * 10))"
}

show_status() {
	case $#:$1 in
	0:) ;;
	2:--state-dir) state_dir=$2 ;;
	*) die "status: usage: $me status [--state-dir DIR]" ;;
	esac
	supervisor_pid
	case $s_state in
	running) echo "supervisor=$spid generation=$s_gen state=running pid=$s_detail" ;;
	crashed) echo "supervisor=$spid generation=$s_gen state=crashed status=$s_detail" ;;
	*) echo "supervisor=$spid generation=$s_gen state=$s_state" ;;
	esac
}

mode=$1
[ $# -eq 0 ] || shift
case $mode in
run) supervise "$@" ;;
restart) request_restart "$@" ;;
status) show_status "$@" ;;
*) die "usage: $me run|restart|status ... (see the comment at the top of this script)" ;;
esac
