"""`python -m gan_keras.pretrained classifiers`: train the shipped digit classifiers again, into this
folder; `python -m gan_keras.pretrained pack RUN NAME --command ... --licence ...`: ship a trained run."""

import argparse

parser = argparse.ArgumentParser(prog="python -m gan_keras.pretrained")
sub = parser.add_subparsers(dest="command", required=True)
sub.add_parser("classifiers", help="train the domain-FID digit classifiers again")
p = sub.add_parser("pack", help="copy a run folder into the package with a measured model card")
p.add_argument("run")
p.add_argument("name")
p.add_argument("--command", dest="train_command", required=True, help="the exact command that trained it")
p.add_argument("--licence", required=True, help="the training data's licence")
p.add_argument("--summary", default="")
p.add_argument("--n", type=int, default=10000, help="images compared for the card's metrics")
p.add_argument("--best", action="store_true", help="ship the generator kept in RUN/best/ (train --eval-every)")
args = parser.parse_args()

if args.command == "classifiers":
    from gan_keras.metrics.features import DIGIT_SETS, train_digit_classifier
    from gan_keras.pretrained import classifier_files

    for name in DIGIT_SETS:
        model_path, card_path = classifier_files(name)
        _, info = train_digit_classifier(name, model_path, card_path)
        print(f"{model_path.name}: test accuracy {info['test_accuracy']:.4f}")
else:
    from gan_keras.pretrained.pack import card_markdown, pack

    print(card_markdown(pack(args.run, args.name, args.train_command, args.licence, args.summary, args.n,
                            best=args.best)))
