"""Everything a person sees or answers: consoles, progress display, prompts."""
