"""The app's pages, one module each; each exposes `router`. Their order here is the order a user walks them."""

from __future__ import annotations

from tuneforge.ui.pages import compare, data, deploy, monitor, review, train

PAGE_ROUTERS = [data.router, train.router, compare.router, deploy.router, review.router, monitor.router]
