"""Chain tools: transaction checks on Bitcoin and EVM chains, offline verification of raw
transactions and merkle proofs, address-control proofs and address labels."""
