"""What every stage shares: errors, atomic files, output-folder rules, verification records, worker pools."""
