# kindling's spare Python. The restart supervisor starts it ahead of a restart as
#   python [options] spare.py SCRIPT [ARGS...]   or   python [options] spare.py -m MODULE [ARGS...]
# with KINDLING_SPARE_FD naming a FIFO it holds. It loads Python and the standard modules an HTTP app
# uses, then blocks until the supervisor writes one byte there: the restart. It then runs SCRIPT (or
# MODULE) as __main__, as `python [options] SCRIPT [ARGS...]` would, without paying for the start-up again.
# Before it waits it creates the file KINDLING_SPARE_READY: a spare that exits without it never ran the app.
import os
import runpy
import sys

fd = int(os.environ.pop("KINDLING_SPARE_FD"))
ready = os.environ.pop("KINDLING_SPARE_READY", "")
module = sys.argv[1] == "-m"
del sys.argv[: 2 if module else 1]
app_dir = os.getcwd() if module else os.path.dirname(os.path.realpath(sys.argv[0]))
sys.path[0] = app_dir

# A module that the app's own directory shadows is left to the app.
for name in ("socket", "selectors", "threading", "http.server", "http.client", "json", "logging",
             "email.parser", "urllib.parse", "ssl"):
    top = name.partition(".")[0]
    if not (os.path.exists(os.path.join(app_dir, top + ".py")) or os.path.isdir(os.path.join(app_dir, top))):
        __import__(name)
if module:
    # The module to run as __main__ may be among those loaded (python -m http.server): as in a fresh
    # start, it must not be imported yet.
    sys.modules.pop(sys.argv[0], None)

if ready:
    open(ready, "w").close()
while not os.read(fd, 1):
    pass
os.close(fd)

if module:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    runpy.run_path(os.path.abspath(sys.argv[0]), run_name="__main__")
