"""Where sign-ins live: profiles (server + email) in a TOML file, tokens in the OS keyring."""
