"""Clients of the third parties the service talks to, one package per publisher.

- `insided/`: the inSided (Gainsight Customer Communities) User API: member profiles, the member
  list, roles and badges.
- `automation_anywhere/`: the Automation Anywhere Control Room: deploying the digest bots and
  reading how their runs ended.

The next client (a CRM) gets a package of its own here. Each keeps its HTTP client (with its typed
errors) apart from the mapping of the replies into our terms.

Integrations import `core` and Django, never an app: apps call integrations, and what an
integration needs from an app (a model, a setting of the app's rules) is passed to it or lives in
`core`. tests/core/test_layering.py holds this.
"""
