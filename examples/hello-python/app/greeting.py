# Edit MESSAGE, then run `kindling sync --restart`: the server picks it up when it restarts.
MESSAGE = "Hello from kindling!"
