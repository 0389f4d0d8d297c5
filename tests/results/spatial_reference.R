# Reference estimates for geoattr's spatial models (spatialreg, ML with exact log-determinants).
#   Rscript tests/results/spatial_reference.R      (from the repository root)
# Inputs: spatial_data.csv, spatial_weights_{queen,knn4}.csv (written by make_spatial_data.py)
# Output: spatial_reference_output.csv (model, term, estimate, std_error), spatial_reference_versions.txt
suppressPackageStartupMessages({library(spdep); library(spatialreg)})
dir <- "tests/results"
d <- read.csv(file.path(dir, "spatial_data.csv"), colClasses = c(unit = "character"))
lw <- function(name) {
  e <- read.csv(file.path(dir, paste0("spatial_weights_", name, ".csv")), colClasses = c(focal = "character", neighbor = "character"))
  n <- nrow(d); m <- matrix(0, n, n)
  m[cbind(match(e$focal, d$unit), match(e$neighbor, d$unit))] <- e$weight
  mat2listw(m, style = "W")
}
queen <- lw("queen"); knn4 <- lw("knn4")
f <- y ~ x1 + x2
out <- list()
add <- function(model, fit, extra = NULL) {
  s <- summary(fit)
  co <- s$Coef
  df <- data.frame(model = model, term = rownames(co), estimate = co[, 1], std_error = co[, 2])
  if (!is.null(fit$rho)) df <- rbind(df, data.frame(model = model, term = "rho", estimate = fit$rho, std_error = fit$rho.se))
  if (!is.null(fit$lambda)) df <- rbind(df, data.frame(model = model, term = "lambda", estimate = fit$lambda, std_error = fit$lambda.se))
  df <- rbind(df, data.frame(model = model, term = "loglik", estimate = as.numeric(logLik(fit)), std_error = NA))
  out[[model]] <<- df
}
add("sar", lagsarlm(f, d, queen, method = "eigen"))
add("sem", errorsarlm(f, d, queen, method = "eigen"))
add("sdm", lagsarlm(f, d, queen, method = "eigen", Durbin = TRUE))
add("sac", sacsarlm(f, d, queen, method = "eigen"))
add("sac_knn_error", sacsarlm(f, d, listw = queen, listw2 = knn4, method = "eigen"))
# Spatial panels with unit fixed effects (Elhorst): ML on the within-transformed data with
# W_NT = I_T (x) W (splm has no Debian package; this is its within estimator's likelihood)
p <- read.csv(file.path(dir, "spatial_panel_data.csv"), colClasses = c(unit = "character"))
p <- p[order(p$year, match(p$unit, d$unit)), ]
dm <- function(v) v - ave(v, p$unit)
pw <- data.frame(y_sar = dm(p$y_sar), y_sem = dm(p$y_sem), x1 = dm(p$x1), x2 = dm(p$x2))
m1 <- listw2mat(queen)
TT <- length(unique(p$year))
queen_nt <- mat2listw(kronecker(diag(TT), m1), style = "W")
add("sar_fe_within", lagsarlm(y_sar ~ x1 + x2 - 1, pw, queen_nt, method = "eigen"))
add("sem_fe_within", errorsarlm(y_sem ~ x1 + x2 - 1, pw, queen_nt, method = "eigen"))
res <- do.call(rbind, out)
res$term[res$term == "(Intercept)"] <- "const"
res$term <- sub("^lag\\.", "W_", res$term)
write.csv(res, file.path(dir, "spatial_reference_output.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("spatialreg", packageVersion("spatialreg")), paste("spdep", packageVersion("spdep")),
             paste("run", format(Sys.time(), tz = "UTC"))), file.path(dir, "spatial_reference_versions.txt"))
