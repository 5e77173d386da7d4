"""Salesforce (REST API): the client the CRM hand-off calls (`client`) and its typed errors (`errors`)."""
