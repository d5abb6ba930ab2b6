"""Process definitions, rules and offers arrive with the guided-process issue."""
