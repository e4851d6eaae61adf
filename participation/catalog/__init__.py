"""The city catalog: departments, districts and categories."""
