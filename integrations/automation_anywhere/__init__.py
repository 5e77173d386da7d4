"""The Automation Anywhere Control Room.

- `client`: authentication and its token, deploying a bot with string inputs, reading a
  deployment's runs from the Activity List; its typed errors.

The digests app calls it (digests.backends, digests.services.runs).
"""
