"""What a request may make the operator do, decided in one place.

Lanai acts for whoever writes a Repository, a PackageRevision or its resources: it reads
Secrets, connects to Git servers, writes files and runs functions. Every rule about how
far it goes on someone's behalf (which Secret, which URL and address, which file path,
how much memory and time) is a pure function here, table-tested and called before any
I/O; the CRDs' CEL rules and the admission policies mirror them where the API server
can refuse earlier. The bottom layer: it imports nothing of Lanai's.
"""
