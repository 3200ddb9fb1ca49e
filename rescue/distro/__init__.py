"""What a distribution family knows: kernel naming, initrd and install tools, package manager files."""
