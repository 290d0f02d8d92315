from xenplan.cli import main

main()
