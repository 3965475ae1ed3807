#!/bin/sh
# kindling-supervisor: keeps an app restartable in place for `kindling sync --restart`.
# kindling delivers this file through the pod spec (no image change); it needs only a POSIX sh
# (dash, BusyBox ash) and reads /proc. Modes:
#
#   kindling-supervisor run [--tools DIR] [--hold S] [--grace S] [--state-dir DIR] [--spare SCRIPT --spare-at N] -- ARGV...
#       Run ARGV as a child in its own process group and restart it on request. With --spare, spare
#       interpreters wait for the restarts (see "spare interpreters" below). --tools DIR (first, when given)
#       names the directory of the tools of an image that has none (kindling's toolbox: BusyBox linked as
#       each applet); the supervisor takes its own from there, and the app's PATH stays as it was.
#   kindling-supervisor restart [--wait-port PORT]... [--timeout S] [--state-dir DIR]
#       Ask the supervisor for a restart and wait until the new app runs (and listens on PORT).
#       Prints one line: "restarted pid=P generation=G ready_ms=MS", "crashed status=N" or "timeout ...".
#   kindling-supervisor status [--state-dir DIR]
#       Print the generation and state of the app in one line.
#   kindling-supervisor signal PID SIGNAL TIMEOUT
#       Send a server's reload signal to its master PID and watch its workers (its children, or its
#       threads when it has none) until every old one is replaced. Needs no supervisor; kindling runs it
#       as `sh -c "$script" kindling-reload signal ...`. Prints "reloaded workers=N ms=MS",
#       "partial new=N remaining=K ms=MS" (time is up but the reload is under way), "ignored workers=N",
#       "gone" (the master exited or was replaced) or "nomaster".
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

# use_tools DIR: the supervisor's own external commands are DIR's, without DIR on the PATH its app inherits.
use_tools() {
	for _tool in sleep mkdir rm mkfifo setsid env; do
		eval "$_tool() { \"\$tools/$_tool\" \"\$@\"; }"
	done
	tools=$1
}
tools=
if [ "$1" = run ] && [ "$2" = --tools ] && [ -n "$3" ]; then
	use_tools "$3"
	mode=$1
	shift 3
	set -- "$mode" "$@"
fi

# Polls sleep for a tick; POSIX sleep only promises whole seconds. The supervisor's own waits (the app
# leaving after TERM) hold up the restart, so they poll often; a client's (the app listening again, a
# reload done) only time it, and every poll is a process competing with the app's start-up, so they
# poll less often.
if sleep 0.001 2>/dev/null; then tick=0.01 client_tick=0.05; else tick=1 client_tick=1; fi

set_state() { printf '%s\n' "$*" >"$state_dir/state"; }

# read_state sets s_gen, s_state and s_detail; it fails while the file is missing or being rewritten.
read_state() {
	s_gen='' s_state='' s_detail=''
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
		# shellcheck disable=SC2086 # split the fields
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
	# Most apps are gone within a few milliseconds of the TERM: look again at once a few times before
	# paying for a sleep process.
	_spins=5
	while group_alive; do
		now_cs
		[ "$now" -lt "$_deadline" ] || return 1
		if [ "$_spins" -gt 0 ]; then
			_spins=$((_spins - 1))
		else
			sleep "$tick"
		fi
	done
}

# app_running: the child has left this shell for its own program. Between fork and exec it is a copy
# of this shell whose traps would swallow a TERM. With setsid, leading its own process group shows that
# it got past exec; without setsid there is no telling, and it counts as running.
# It runs in the stop trap too, so its variables are its own.
app_running() {
	[ -n "$has_setsid" ] || return 0
	{ read -r _app_stat <"/proc/$child/stat"; } 2>/dev/null || return 0
	# shellcheck disable=SC2086 # split the fields
	set -- ${_app_stat##*") "}
	[ "$1" = Z ] || [ "$3" = "$child" ]
}

# await_app_running waits, at most two seconds, until the child can take a signal.
await_app_running() {
	now_cs
	_app_deadline=$((now + 200))
	until app_running; do
		now_cs
		[ "$now" -lt "$_app_deadline" ] || return 0
		sleep "$tick"
	done
}

# start_app starts the app unless a stop is pending (the main loop forwards a stop that comes later):
# a spare takes over when there is one, else a new process starts. Then the next spare starts.
start_app() {
	[ -z "$stopping" ] || return 0
	gen=$((gen + 1))
	if ! spare_take; then
		# exec: argv[0] must name a program, never one of this script's functions.
		exec $launcher "$@" 0<&3 3<&- 4<&- 5<&- &
		child=$!
	fi
	set_state "$gen running $child"
	spare_fill "$@"
}

# stop_app ends the whole group, so that no old process keeps the port: TERM, then KILL after the grace.
stop_app() {
	[ -n "$child" ] || return 0
	await_app_running
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
# the signal again every 100 ms while nothing happens (a signal landing just before `wait` blocks is
# only seen on the next one). Restart only when that generation is still the current one, so a repeated
# signal never causes a second restart.
request_pending() {
	_want=
	{ read -r _want <"$state_dir/request"; } 2>/dev/null
	case $_want in '' | *[!0-9]*) _want=$gen ;; esac
	[ "$_want" -ge "$gen" ]
}

# idle SECONDS: sleeps until a signal arrives or SECONDS pass. The trap handlers kill the sleeper, and a
# flag set before the sleeper existed is checked here, so no signal is missed. The sleeper gets KILL: a
# TERM could reach it before its exec, where this shell's trap would swallow it.
idle() {
	# (The program itself, not the function of use_tools: the KILL must reach the sleep.)
	"${tools:+$tools/}sleep" "$1" 3<&- 4<&- 5<&- &
	sleeper=$!
	[ -n "$requested$stopping" ] || wait "$sleeper"
	kill -KILL "$sleeper" 2>/dev/null
	wait "$sleeper" 2>/dev/null
	sleeper=
}

wake() { [ -z "$sleeper" ] || kill -KILL "$sleeper" 2>/dev/null; }

# stop SIG: a stop signal for the supervisor goes to the app at once, wherever the main loop is (it may
# be about to block in wait), as soon as the app can take it. With no app yet, the main loop forwards it
# once there is one.
stop() {
	stopping=$1
	[ "$1" = TERM ] || [ -n "$resets_signals" ] || stopping=TERM
	[ -z "$child" ] || forward_stop
	wake
}

forward_stop() {
	[ -z "$forwarded" ] || return 0
	await_app_running
	signal_group "$stopping" "$child"
	forwarded=1
}

supervise() {
	hold=0 grace=5 spare_script='' spare_at=1
	while [ $# -gt 0 ]; do
		case $1 in
		--hold | --grace | --state-dir | --spare | --spare-at)
			[ $# -ge 2 ] || die "$1 needs a value"
			case $1 in
			--hold) need_int "$1" "$2" && hold=$2 ;;
			--grace) need_int "$1" "$2" && grace=$2 ;;
			--state-dir) state_dir=$2 ;;
			--spare) spare_script=$2 ;;
			--spare-at) need_int "$1" "$2" && spare_at=$2 ;;
			esac
			shift 2
			;;
		--) shift && break ;;
		*) die "run: unknown option '$1'; usage: $me run [--hold S] [--grace S] [--state-dir DIR] [--spare SCRIPT --spare-at N] -- ARGV..." ;;
		esac
	done
	[ $# -gt 0 ] || die "run: no command after --"
	if [ -n "$spare_script" ] && { [ "$spare_at" -lt 1 ] || [ "$spare_at" -ge $# ]; }; then
		die "run: --spare-at $spare_at is not the index of an argument after the program"
	fi

	if ! { mkdir -p "$state_dir" && printf '%s\n' $$ >"$state_dir/pid"; } 2>/dev/null; then
		die "cannot write to state directory $state_dir; pass --state-dir with a writable directory"
	fi
	: >"$state_dir/request"

	# No job control without a tty, so sh starts background jobs in its own process group and with
	# SIGINT and SIGQUIT ignored. setsid gives the app its own group; env --default-signal (GNU
	# coreutils) undoes the ignoring where it exists. Without it, INT and QUIT are forwarded as TERM.
	launcher='' resets_signals='' has_setsid=''
	if [ -n "$tools" ]; then
		launcher=$tools/setsid has_setsid=1 # a program: the function stays in this shell
	elif command -v setsid >/dev/null 2>&1; then
		launcher=setsid has_setsid=1
	else
		say "setsid not found: a restart stops only the app's own process, not processes it started"
	fi
	if env --default-signal=INT,QUIT true 2>/dev/null; then
		launcher="$launcher env --default-signal=INT,QUIT --"
		resets_signals=1
	fi
	# A background job's stdin is /dev/null: keep the container's for the app.
	if [ -e "/proc/$$/fd/0" ]; then exec 3<&0; else exec 3</dev/null; fi

	gen=0 child='' sleeper='' requested='' stopping='' forwarded='' last_status=0
	spares=0 child_ready='' spare1='' gate1='' ready1='' spare2='' gate2='' ready2=''
	trap 'requested=1; wake' USR1
	trap 'stop TERM' TERM
	trap 'stop INT' INT
	trap 'stop QUIT' QUIT

	# The first spares load while the initial sync lands.
	spare_fill "$@"
	if [ "$hold" -gt 0 ]; then
		set_state "0 held"
		idle "$hold"
		[ -n "$requested$stopping" ] || say "no sync arrived within ${hold}s; starting the app anyway"
		requested=
	fi
	start_app "$@"

	while :; do
		if [ -n "$stopping" ]; then
			spare_stop
			[ -z "$child" ] || forward_stop
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
			# A spare that exits before it was ready never ran the app: this start is done again, cold.
			if [ -n "$child_ready" ] && [ ! -e "$child_ready" ]; then
				spare_failed "$last_status"
				gen=$((gen - 1))
				start_app "$@"
				continue
			fi
			say "app exited with status $last_status; waiting for the next sync"
			set_state "$gen crashed $last_status"
		fi
	done
}

# ---- spare interpreters ------------------------------------------------------------------------------

# With --spare SCRIPT --spare-at N, a restart does not wait for the interpreter to start: a spare, the
# app's argv with SCRIPT (kindling's, for that interpreter) inserted at index N, was started ahead. It
# loads the interpreter, creates the file $KINDLING_SPARE_READY, then blocks reading the fd
# $KINDLING_SPARE_FD, a FIFO that only it and this shell hold open; the restart writes one byte there and
# the spare runs the app's script as its main program. Holding the FIFO itself, the spare finds the byte
# however far its own start-up got. Two spares wait, the older one taken first, so that restarts in quick
# succession each find one loaded (a Node.js start-up takes ~250 ms of CPU). A spare that exits before
# it is ready (SCRIPT exits when the environment would make it differ from a fresh start) turns spares
# off, and the app starts cold, as without --spare.
#
# Slot 1 (spare1, gate1, ready1) holds the older spare, slot 2 the newer; the gates are fds 4 and 5.

# spare_fill ARGV...: starts spares until two wait.
spare_fill() {
	while [ -n "$spare_script" ] && [ -z "$stopping" ] && [ -z "$spare2" ]; do
		spare_spawn "$@"
	done
}

# spare_spawn ARGV...: starts a spare in the free slot.
spare_spawn() {
	spares=$((spares + 1))
	_fd=4 _other=5
	[ "$gate1" != 4 ] || _fd=5 _other=4
	_gate=$state_dir/spare-gate
	_ready=$state_dir/spare-$spares.ready
	rm -f "$_gate" "$_ready"
	if ! mkfifo "$_gate" 2>/dev/null; then
		say "mkfifo failed in $state_dir: every restart starts the app cold"
		spare_script=
		return 0
	fi
	eval "exec $_fd<>\"\$_gate\""
	rm -f "$_gate"
	# Insert the script at index spare_at: rotate the arguments once, adding it on the way.
	_i=0
	for _arg; do
		[ "$_i" != "$spare_at" ] || set -- "$@" "$spare_script"
		set -- "$@" "$_arg"
		shift
		_i=$((_i + 1))
	done
	eval "{
		export KINDLING_SPARE_FD=$_fd KINDLING_SPARE_READY=\"\$_ready\"
		exec \$launcher \"\$@\"
	} 0<&3 3<&- $_other<&- &"
	if [ -z "$spare1" ]; then
		spare1=$! gate1=$_fd ready1=$_ready
	else
		spare2=$! gate2=$_fd ready2=$_ready
	fi
}

# spare_take makes the older spare the app; it fails when there is none.
spare_take() {
	[ -z "$child_ready" ] || rm -f "$child_ready"
	child_ready=
	[ -n "$spare1" ] || return 1
	if { read -r _line <"/proc/$spare1/stat"; } 2>/dev/null; then
		case ${_line##*") "} in
		Z* | X*) ;;
		*)
			eval "printf x >&$gate1; exec $gate1>&-"
			child=$spare1 child_ready=$ready1
			spare1=$spare2 gate1=$gate2 ready1=$ready2
			spare2='' gate2='' ready2=''
			return 0
			;;
		esac
	fi
	wait "$spare1"
	spare_failed $?
	return 1
}

# spare_failed STATUS turns spares off after one exited before it was ready.
spare_failed() {
	say "the spare interpreter exited with status $1 before it was ready; every restart starts the app cold"
	spare_stop
	spare_script=
}

# spare_stop ends the waiting spares. They are not the app yet: they have nothing to finish.
spare_stop() {
	exec 4>&- 5>&-
	for _pid in $spare1 $spare2; do
		kill -KILL "$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
	done
	rm -f "$ready1" "$ready2"
	spare1='' gate1='' ready1='' spare2='' gate2='' ready2=''
}

# ---- client ------------------------------------------------------------------------------------------

# port_listening HEXPORT: succeeds when a TCP socket listens on the port (state 0A in /proc/net/tcp*).
# The tables list every connection, thousands under load: sh's read takes them a byte at a time, so
# grep does it where there is one.
port_listening() {
	if [ -n "$has_grep" ]; then
		grep -q -E "^ *[0-9]+: [0-9A-F]+:$1 [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
		return
	fi
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
			nudge=$((now + 10))
		fi
		sleep "$client_tick"
	done
	app_gen=$s_gen app_pid=$s_detail
	has_grep=
	! command -v grep >/dev/null 2>&1 || has_grep=1
	for port in $ports; do
		hex=$(printf '%04X' "$port")
		until port_listening "$hex"; do
			client_check "waiting=port:$port"
			sleep "$client_tick"
		done
	done
	# An app that failed to bind may have exited while the port looked served.
	client_check "waiting=port"
	now_cs
	echo "restarted pid=$app_pid generation=$app_gen ready_ms=$(((now - started) * 10))"
}

# ---- reload signal -----------------------------------------------------------------------------------

# master_started sets started to the start time of $pid (field 22 of its stat); fails when it is gone.
master_started() {
	{ read -r _line <"/proc/$pid/stat"; } 2>/dev/null || return 1
	# shellcheck disable=SC2086 # split the fields
	set -- ${_line##*") "}
	case $1 in Z | X) return 1 ;; esac
	started=${20}
}

# master_alive succeeds while $pid is the master the signal went to. A master that re-executes itself
# from a thread other than its main one (Go's syscall.Exec, a Ruby thread) shows as a zombie for a
# moment, while the kernel ends the old main thread before the new program takes over its PID: it is
# only gone if it stays so for a few looks.
master_alive() {
	for _look in 1 2 3 4 5; do
		master_started && [ "$started" = "$first_start" ] && return 0
		sleep "$client_tick"
	done
	return 1
}

# list_workers sets workers to " PID PID ... ": the master's live children, or, when it had none before
# the signal ($by_threads), its threads other than itself (Puma in single mode re-executes itself on USR2:
# same PID, new threads). The kind is fixed before the signal: a master whose workers all died must not
# count its threads as new workers.
list_workers() {
	workers=" "
	if [ -z "$by_threads" ]; then
		for _stat in /proc/[0-9]*/stat; do
			{ read -r _line <"$_stat"; } 2>/dev/null || continue
			# shellcheck disable=SC2086 # split the fields
			set -- ${_line##*") "}
			case $1 in Z | X) continue ;; esac
			[ "$2" != "$pid" ] || workers="$workers${_line%% *} "
		done
		return 0
	fi
	for _task in /proc/"$pid"/task/[0-9]*; do
		[ "${_task##*/}" = "$pid" ] || workers="$workers${_task##*/} "
	done
}

# compare_workers lists the workers and counts the old ones (total), those still there (remaining) and
# the new ones.
compare_workers() {
	list_workers
	total=0 remaining=0 new=0
	for w in $old; do
		total=$((total + 1))
		case $workers in *" $w "*) remaining=$((remaining + 1)) ;; esac
	done
	for w in $workers; do
		case $old in *" $w "*) ;; *) new=$((new + 1)) ;; esac
	done
}

reload_signal() {
	[ $# -eq 3 ] || die "usage: $me signal PID SIGNAL TIMEOUT"
	pid=$1 sig=$2
	need_int PID "$pid"
	need_int TIMEOUT "$3"
	if ! master_started; then
		echo nomaster
		exit 2
	fi
	first_start=$started
	by_threads=
	list_workers
	[ "$workers" != " " ] || { by_threads=1 && list_workers; }
	old=$workers
	kill -"$sig" "$pid" || exit 2
	now_cs
	began=$now deadline=$((now + $3 * 100))
	while :; do
		sleep "$client_tick"
		now_cs
		if ! master_alive; then
			echo gone
			exit 1
		fi
		compare_workers
		if [ "$remaining" -eq 0 ] && [ "$new" -gt 0 ]; then
			# A listing is no snapshot: workers started while it ran can be missing. Count again.
			ready_ms=$(((now - began) * 10))
			compare_workers
			echo "reloaded workers=$new ms=$ready_ms"
			exit 0
		fi
		[ "$now" -ge "$deadline" ] || continue
		if [ "$new" -gt 0 ] || [ "$remaining" -lt "$total" ]; then
			echo "partial new=$new remaining=$remaining ms=$(((now - began) * 10))"
			exit 0
		fi
		echo "ignored workers=$total"
		exit 1
	done
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
signal) reload_signal "$@" ;;
*) die "usage: $me run|restart|status|signal ... (see the comment at the top of this script)" ;;
esac
