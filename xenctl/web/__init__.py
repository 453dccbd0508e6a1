"""``xenctl serve``: xend's role, an HTTP service and a web console over the application layer.

The page and the JSON API call ``xenctl.app`` exactly as the command line does: the same host
handle, the same lock around every mutation, the same refusals, worded as the CLI words them.

- ``config``: where the service listens, the host it serves, its token, and the checks on them;
- ``security``: every request's checks (Host header, token, CSRF and origin, body size);
- ``hosts``: the host handles, one per worker thread, and reading what a page shows;
- ``jobs``: applies running in the background, their progress as events;
- ``api``: the versioned JSON API (``/api/v1/``);
- ``pages`` and ``actions``: the server-rendered pages and the forms they post;
- ``server``: the Starlette application, and running it under uvicorn.
"""
