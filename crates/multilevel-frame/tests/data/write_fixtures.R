# Writes the Stata fixtures of crates/multilevel-frame/tests/readers.rs with R's haven.
# Run from this directory: Rscript write_fixtures.R
library(haven)

# hsb.dta: the High School and Beyond data of the multilevel tutorials (mlmRev::Hsb82), first
# 3 schools, written as Stata 13 (format 117) with `sx` value-labelled and `minrty` a string.
data("Hsb82", package = "mlmRev")
d <- Hsb82[Hsb82$school %in% levels(Hsb82$school)[1:3], ]
hsb <- data.frame(
  school = as.integer(as.character(d$school)),
  minrty = as.character(d$minrty),
  sx = labelled(ifelse(d$sx == "Male", 1L, 2L), c(Male = 1L, Female = 2L)),
  ses = d$ses,
  mAch = d$mAch,
  meanses = d$meanses,
  sector = labelled(ifelse(d$sector == "Public", 0L, 1L), c(Public = 0L, Catholic = 1L)),
  cses = d$cses,
  stringsAsFactors = FALSE
)
write_dta(hsb, "hsb.dta", version = 13)
write.csv(hsb, "hsb_expected.csv", row.names = FALSE)

# labelled.dta: Stata 12 (format 115) with missing values, a float, a label set whose values
# are not all used, two values sharing one label, and a value without a label.
lab <- data.frame(
  yval = c(1.5, NA, 3.25, 4, 5),
  fval = c(0.5, 1.5, NA, 2.5, 3.5),
  grp = labelled(c(3L, 1L, 2L, NA, 9L), c(low = 1L, mid = 2L, high = 3L, low = 4L, never = 7L)),
  txt = c("b", "a", "", "b", "c"),
  stringsAsFactors = FALSE
)
write_dta(lab, "labelled.dta", version = 12)

# labelled.sav / labelled_bytecode.sav: the same table as SPSS files, uncompressed and
# bytecode-compressed (variable names longer than 8 bytes exercise the long-name record).
lab_sav <- lab
names(lab_sav) <- c("yval", "fval_long_name", "grp", "txt")
write_sav(lab_sav, "labelled.sav", compress = "none")
write_sav(lab_sav, "labelled_bytecode.sav", compress = "byte")
