from edge.cli.app import main

main()
