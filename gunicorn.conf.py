"""gunicorn settings for production and `make run`.

gthread workers: CSV exports stream inside the request, and a sync worker is killed by the
arbiter when a response takes longer than `timeout` (gthread's main thread keeps heartbeating).
Two processes per core, four threads each. Pages are CPU-bound, so threads add no throughput
(the User List at 16 connections: 148-161 req/s with 4, 159-165 with 2), but a sign-in waiting
for a hashing slot (accounts/throttle.py) holds its thread while it waits: with 2 threads per
worker, 16 clients signing in at once took most of the machine's 10 threads and the list's p99
rose to 2.5-7.7x idle (five runs); with 4 (20 threads) it was 1.2-3.2x (five runs).
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
