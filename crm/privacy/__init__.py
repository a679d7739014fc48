"""Customer-data rights (APPI): who saw whom (the access log), disclosure export, erasure, and the
registry through which every app declares what it holds about a person."""
