"""The browser portals: server-rendered pages (Django templates and htmx) over the same
services and selectors as the API. The customer portal is the first; the agent panel and the
staff console follow. No view writes a model: every change is a service call."""
