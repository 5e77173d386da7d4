"""The console's date formats (FORMAT_MODULE_PATH): one way of writing a moment across the admin."""
