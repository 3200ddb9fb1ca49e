"""diagnose: read a guest into facts once, judge them with pure rules, render the findings.

`gather.Gatherer` reads one guest (through `reader.GuestReader`, capped and
symlink-safe; `bootmenu` resolves the boot loader's entries) into
`model.GuestFacts`; `rules.diagnose(facts)` returns the `Diagnosis` (findings,
verdict, the kernel to reinstall) without I/O; `report` renders it as text or
JSON; `fleet` plans many images (which files, how many appliances).
"""
